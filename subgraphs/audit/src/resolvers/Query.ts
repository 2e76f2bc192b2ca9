import type { AuditContext } from '../context.js';
import type { AuditFilter, AuditPage } from '../repositories/audit-entry.repository.js';

/** A page as a Relay connection; `hasPreviousPage` is true when the page starts after a cursor. */
export function toConnection(page: AuditPage, after: string | null | undefined) {
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

export const Query = {
  auditLog: async (_: unknown, args: { filter?: AuditFilter | null; first: number; after?: string | null }, ctx: AuditContext) =>
    toConnection(await ctx.entries.list(ctx.caller.userId, args.filter ?? {}, args.first, args.after), args.after),
};
