/**
 * Apollo Client cache configuration for the taskgraph API (`@taskgraph/client/apollo`).
 *
 * With these type policies a watched query needs no hand-written cache code:
 * - `tasks`, `auditLog`, `notifications` and `Task.history` are Relay connections merged page by
 *   page (`relayStylePagination`), one cache entry per filter/order;
 * - `Query.task(id)` reads `Task:<id>` from the cache when it is there;
 * - `deleteTask` and `taskUpdates` DELETED events evict `Task:<id>`, so it leaves every list
 *   (connections skip dangling references) and `task(id)` becomes null;
 * - a task created by `createTask` or arriving as a CREATED/UPDATED `taskUpdates` event is put into
 *   (or taken out of) every cached `tasks` list whose filter it matches (or no longer matches), at the
 *   position its order gives; a list that has more pages only takes it inside its loaded range.
 *
 * `@apollo/client` is a peer dependency: import this module only from an Apollo Client app.
 */
import { type ApolloCache, InMemoryCache, type InMemoryCacheConfig, type Reference, type TypePolicies } from '@apollo/client';
import { relayStylePagination } from '@apollo/client/utilities';
import { placeTaskInLists } from './task-lists.js';

/** `Task:<id>` (the cache id Apollo gives a task: `__typename` + `id`). */
const taskCacheId = (cache: ApolloCache, id: string): string | undefined => cache.identify({ __typename: 'Task', id });

/**
 * Cache edits a merge function asks for run after the write that triggered them has finished
 * (a merge function must not write to the cache it is merging into).
 */
function afterWrite(cache: ApolloCache, edit: () => void): void {
  queueMicrotask(() => {
    edit();
    cache.gc();
  });
}

function evictTask(cache: ApolloCache, id: string): void {
  afterWrite(cache, () => {
    const cacheId = taskCacheId(cache, id);
    if (cacheId) cache.evict({ id: cacheId });
  });
}

/** The type policies; pass them to your own `InMemoryCache` if you configure it yourself. */
export function taskgraphTypePolicies(): TypePolicies {
  return {
    Query: {
      fields: {
        tasks: relayStylePagination(['filter', 'orderBy']),
        auditLog: relayStylePagination(['filter']),
        notifications: relayStylePagination(['unreadOnly']),
        task: {
          read(existing, { args, toReference }) {
            return existing ?? (typeof args?.id === 'string' ? toReference({ __typename: 'Task', id: args.id }) : undefined);
          },
        },
      },
    },
    Task: { fields: { history: relayStylePagination([]) } },
    Mutation: {
      fields: {
        createTask: {
          merge(_existing, incoming: Reference, { cache }) {
            afterWrite(cache, () => placeTaskInLists(cache, incoming));
            return incoming;
          },
        },
        deleteTask: {
          merge(_existing, incoming: Reference | { id?: string }, { cache, readField }) {
            const id = readField<string>('id', incoming as Reference);
            if (id) evictTask(cache, id);
            return incoming;
          },
        },
      },
    },
    Subscription: {
      fields: {
        taskUpdates: {
          merge(_existing, incoming: Reference, { cache, readField }) {
            const op = readField<string>('op', incoming);
            const taskId = readField<string>('taskId', incoming);
            const task = readField<Reference | null>('task', incoming);
            if (taskId && (op === 'DELETED' || task === null)) evictTask(cache, taskId);
            else if (task) afterWrite(cache, () => placeTaskInLists(cache, task));
            return incoming;
          },
        },
      },
    },
  };
}

/** An `InMemoryCache` with {@link taskgraphTypePolicies} (extra config merged in). */
export function createTaskgraphCache(config: InMemoryCacheConfig = {}): InMemoryCache {
  return new InMemoryCache({ ...config, typePolicies: { ...taskgraphTypePolicies(), ...config.typePolicies } });
}
