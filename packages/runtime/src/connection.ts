import { badInput } from './errors.js';

/** Largest `first` a connection accepts (ARCHITECTURE §6 "Pagination"). */
export const MAX_PAGE_SIZE = 100;

/** One page a repository read: the edges and whether more follow. */
export interface Page<T> {
  edges: { cursor: string; node: T }[];
  hasNextPage: boolean;
}

/** A Relay connection as the GraphQL `…Connection` types return it. */
export interface Connection<T> extends Pick<Page<T>, 'edges'> {
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

/** `first` of a connection: an integer 1..`max`, else BAD_USER_INPUT naming `first`. */
export function checkPageSize(first: number, max = MAX_PAGE_SIZE): void {
  if (!Number.isInteger(first) || first < 1 || first > max) throw badInput(`first must be between 1 and ${max}`, 'first');
}

/** The Relay connection of `page`; forward pagination only, so a previous page exists exactly when `after` was given. */
export function toConnection<T>(page: Page<T>, after: string | null | undefined): Connection<T> {
  return {
    edges: page.edges,
    pageInfo: {
      hasNextPage: page.hasNextPage,
      hasPreviousPage: Boolean(after),
      startCursor: page.edges[0]?.cursor ?? null,
      endCursor: page.edges.at(-1)?.cursor ?? null,
    },
  };
}
