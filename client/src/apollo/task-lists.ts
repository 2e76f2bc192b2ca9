/**
 * Keeps cached `tasks(filter, orderBy)` lists in step with a task the cache just learned about
 * (created here, or changed anywhere and delivered by `taskUpdates`): the same filter and order
 * rules as the tasks subgraph (subgraphs/tasks/src/repositories), applied to the loaded pages only.
 */
import type { ApolloCache, Reference } from '@apollo/client';
import type { TaskFilter, TaskOrder } from '../__generated__/graphql.js';

type ReadField = <T>(fieldName: string, from: Reference | object | undefined) => T | undefined;

interface Edge {
  __typename?: string;
  cursor?: string;
  node: Reference;
}
interface Connection {
  edges: Edge[];
  pageInfo?: { hasNextPage?: boolean; hasPreviousPage?: boolean };
}

const PRIORITY_RANK: Record<string, number> = { LOW: 0, MEDIUM: 1, HIGH: 2, URGENT: 3 };

/** The key arguments Apollo stored a `tasks` field under (`tasks:{"filter":…,"orderBy":…}`). */
export function storedArgs(storeFieldName: string): { filter?: TaskFilter | null; orderBy?: TaskOrder | null } {
  const colon = storeFieldName.indexOf(':');
  const paren = storeFieldName.indexOf('(');
  const json =
    colon >= 0 ? storeFieldName.slice(colon + 1) : paren >= 0 ? storeFieldName.slice(paren + 1, storeFieldName.lastIndexOf(')')) : '';
  if (!json) return {};
  try {
    return JSON.parse(json) as { filter?: TaskFilter; orderBy?: TaskOrder };
  } catch {
    return {};
  }
}

/** Whether a task matches a `TaskFilter`; undefined when a field the filter needs is not cached. */
export function matchesFilter(filter: TaskFilter | null | undefined, field: (name: string) => unknown): boolean | undefined {
  if (!filter) return true;
  const read = (name: string): { ok: boolean; value: unknown } => {
    const value = field(name);
    return { ok: value !== undefined, value };
  };
  if (filter.status) {
    const status = read('status');
    if (!status.ok) return undefined;
    if (status.value !== filter.status) return false;
  }
  if (filter.tags && filter.tags.length > 0) {
    const tags = read('tags');
    if (!tags.ok) return undefined;
    const own = new Set(tags.value as string[]);
    if (!filter.tags.every((tag) => own.has(tag))) return false;
  }
  if (filter.priority && filter.priority.length > 0) {
    const priority = read('priority');
    if (!priority.ok) return undefined;
    if (!filter.priority.includes(priority.value as never)) return false;
  }
  if (filter.dueBefore || filter.dueAfter) {
    const due = read('dueAt');
    if (!due.ok) return undefined;
    if (due.value === null) return false;
    const at = Date.parse(due.value as string);
    if (filter.dueBefore && !(at < Date.parse(filter.dueBefore))) return false;
    if (filter.dueAfter && !(at >= Date.parse(filter.dueAfter))) return false;
  }
  if (filter.search) {
    const title = read('title');
    const notes = read('notes');
    if (!title.ok || !notes.ok) return undefined;
    const needle = filter.search.toLowerCase();
    const hay = `${title.value ?? ''}\u0000${notes.value ?? ''}`.toLowerCase();
    if (!hay.includes(needle)) return false;
  }
  return true;
}

/** The sort key of an order, as the subgraph's keyset uses it; undefined when not cached. */
function sortKey(order: TaskOrder, field: (name: string) => unknown): number | undefined {
  const time = (name: string, missing: number): number | undefined => {
    const value = field(name);
    if (value === undefined) return undefined;
    return value === null ? missing : Date.parse(value as string);
  };
  switch (order) {
    case 'CREATED_AT_ASC':
    case 'CREATED_AT_DESC':
      return time('createdAt', Number.NaN);
    case 'UPDATED_AT_DESC':
      return time('updatedAt', Number.NaN);
    case 'DUE_AT_ASC':
      return time('dueAt', Number.POSITIVE_INFINITY);
    case 'DUE_AT_DESC':
      return time('dueAt', Number.NEGATIVE_INFINITY);
    case 'PRIORITY_DESC': {
      const priority = field('priority');
      return priority === undefined ? undefined : (PRIORITY_RANK[priority as string] ?? 0);
    }
  }
}

const ASCENDING: ReadonlySet<TaskOrder> = new Set(['CREATED_AT_ASC', 'DUE_AT_ASC']);

/** Negative when `a` comes first in `order` (key, then id, both in the order's direction). */
function compare(order: TaskOrder, a: { key: number; id: string }, b: { key: number; id: string }): number {
  const sign = ASCENDING.has(order) ? 1 : -1;
  if (a.key !== b.key) return sign * (a.key < b.key ? -1 : 1);
  return sign * (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Puts `task` into, moves it within, or takes it out of every cached `tasks` list. */
export function placeTaskInLists(cache: ApolloCache, task: Reference): void {
  cache.modify<Record<string, unknown>>({
    id: 'ROOT_QUERY',
    fields: {
      tasks(value, { storeFieldName, readField, DELETE }) {
        void DELETE;
        const list = value as Connection | undefined;
        if (!list || !Array.isArray(list.edges)) return value;
        const read = readField as ReadField;
        const id = read<string>('id', task);
        if (!id) return value;
        const { filter, orderBy } = storedArgs(storeFieldName);
        const order: TaskOrder = orderBy ?? 'CREATED_AT_DESC';
        const field = (name: string) => read<unknown>(name, task);
        const matches = matchesFilter(filter, field);
        if (matches === undefined) return value;
        const others = list.edges.filter((edge) => read<string>('id', edge.node) !== id);
        if (!matches) return others.length === list.edges.length ? value : { ...list, edges: others };
        const key = sortKey(order, field);
        if (key === undefined || Number.isNaN(key)) return value;
        const mine = { key, id };
        let index = others.findIndex((edge) => {
          const otherKey = sortKey(order, (name) => read<unknown>(name, edge.node));
          const otherId = read<string>('id', edge.node);
          return otherKey !== undefined && otherId !== undefined && compare(order, mine, { key: otherKey, id: otherId }) < 0;
        });
        if (index < 0) {
          // After every loaded task: it belongs here only when there is no further page.
          if (list.pageInfo?.hasNextPage) return others.length === list.edges.length ? value : { ...list, edges: others };
          index = others.length;
        }
        const typename = list.edges[0]?.__typename ?? 'TaskEdge';
        const edge: Edge = { __typename: typename, cursor: '', node: task };
        return { ...list, edges: [...others.slice(0, index), edge, ...others.slice(index)] };
      },
    },
  });
}
