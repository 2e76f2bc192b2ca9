/**
 * Real `@apollo/client` 4 with `createTaskgraphCache()` (through the docs' own set-up,
 * `client/examples/apollo-client.ts`) against the whole system: a watched `tasks` query follows
 * creates, updates and deletes made here, and changes made elsewhere that arrive over
 * `taskUpdates`, with no cache code in the app and no refetch.
 */
import type { ApolloClient } from '@apollo/client';
import { type RunningSystem, startSystem } from '@taskgraph/testing';
import WebSocket from 'ws';
import { createApolloClient } from '../../examples/apollo-client.js';
import {
  CreateTaskDocument,
  createTaskgraphClient,
  DeleteTaskDocument,
  SyncRetentionDocument,
  type TaskgraphClient,
  TasksDocument,
  type TasksQuery,
  TaskUpdatesDocument,
  UpdateTaskDocument,
} from '../index.js';

let system: RunningSystem;
let apollo: ApolloClient;
let elsewhere: TaskgraphClient;
const cleanups: Array<() => void> = [];

beforeAll(async () => {
  system = await startSystem();
  const token = await system.tokenFor('apollo-user');
  apollo = createApolloClient({ url: system.gatewayUrl, token, webSocketImpl: WebSocket });
  elsewhere = createTaskgraphClient({ url: system.gatewayUrl, token, webSocketImpl: WebSocket });
});

afterAll(async () => {
  for (const cleanup of cleanups) cleanup();
  apollo?.stop();
  await elsewhere?.dispose();
  await system?.close();
});

/** Watches a `tasks` query; `until` waits until its latest result satisfies a check. */
function watchTasks(variables: Parameters<typeof apollo.watchQuery<TasksQuery>>[0]['variables']) {
  let latest: TasksQuery | undefined;
  let changed = () => {};
  const subscription = apollo.watchQuery({ query: TasksDocument, variables }).subscribe({
    next: (result) => {
      if (result.data && result.dataState === 'complete') latest = result.data as TasksQuery;
      changed();
    },
  });
  cleanups.push(() => subscription.unsubscribe());
  const titles = () => latest?.tasks.edges.map((edge) => edge.node.title) ?? [];
  const until = async (check: (titles: string[]) => boolean, what: string, timeout = 10_000) => {
    const deadline = Date.now() + timeout;
    while (!check(titles())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; list is ${JSON.stringify(titles())}`);
      await new Promise<void>((resolve) => {
        changed = resolve;
        setTimeout(resolve, 50);
      });
    }
  };
  return { titles, until };
}

it('a watched list follows local mutations and remote changes with no cache code', async () => {
  const all = watchTasks({ first: 20 });
  const work = watchTasks({ first: 20, filter: { tags: ['work'] } });
  await all.until((t) => t.length === 0, 'the empty first page');
  await work.until((t) => t.length === 0, 'the empty filtered page');

  // The feed writes every event into the cache; start it after the current position.
  const { syncRetention } = await elsewhere.query(SyncRetentionDocument);
  const events: string[] = [];
  const feed = apollo
    .subscribe({ query: TaskUpdatesDocument, variables: { after: syncRetention.latestCursor } })
    .subscribe({ next: (result) => events.push(String(result.data?.taskUpdates.op)) });
  cleanups.push(() => feed.unsubscribe());

  // Local create: merged into the matching lists (newest first), not into the filtered one.
  const first = await apollo.mutate({ mutation: CreateTaskDocument, variables: { input: { title: 'first', tags: ['home'] } } });
  const firstId = first.data?.createTask.id;
  expect(firstId).toBeDefined();
  await all.until((t) => t.join() === 'first', 'the created task in the list');
  await apollo.mutate({ mutation: CreateTaskDocument, variables: { input: { title: 'second', tags: ['work'] } } });
  await all.until((t) => t.join() === 'second,first', 'the second task on top');
  await work.until((t) => t.join() === 'second', 'the work task in the work list');

  // Local update: normalised by Task:<id>; a tag change moves it into the filtered list.
  await apollo.mutate({
    mutation: UpdateTaskDocument,
    variables: { id: firstId as string, input: { title: 'first (renamed)', tags: ['home', 'work'] } },
  });
  await all.until((t) => t.join() === 'second,first (renamed)', 'the renamed task');
  await work.until((t) => t.join() === 'second,first (renamed)', 'the re-tagged task joining the work list');

  // Local delete: evicted from every list.
  await apollo.mutate({ mutation: DeleteTaskDocument, variables: { id: firstId as string } });
  await all.until((t) => t.join() === 'second', 'the deleted task gone');
  await work.until((t) => t.join() === 'second', 'the deleted task gone from the work list');

  // Remote changes (another device of the same user) arrive over taskUpdates.
  const { createTask: remote } = await elsewhere.mutate(CreateTaskDocument, { input: { title: 'remote', tags: ['work'] } });
  await all.until((t) => t.join() === 'remote,second', 'the remotely created task');
  await work.until((t) => t.join() === 'remote,second', 'the remotely created work task');
  await elsewhere.mutate(UpdateTaskDocument, { id: remote.id, input: { title: 'remote (edited)', tags: [] } });
  await all.until((t) => t.join() === 'remote (edited),second', 'the remote edit');
  await work.until((t) => t.join() === 'second', 'the remotely un-tagged task leaving the work list');
  await elsewhere.mutate(DeleteTaskDocument, { id: remote.id });
  await all.until((t) => t.join() === 'second', 'the remote delete');
  expect(events).toEqual(expect.arrayContaining(['CREATED', 'UPDATED', 'DELETED']));
});
