/**
 * `@taskgraph/client` against the whole system (every subgraph, the real gateway, real Postgres):
 * typed queries and mutations, errors with their `extensions.code`, subscriptions through the
 * gateway's federated subscriptions, and the automatic resume of `taskUpdates` after a dropped
 * socket — replaying what was missed, no gap, no duplicate.
 */
import { type RunningSystem, startSystem } from '@taskgraph/testing';
import WebSocket from 'ws';
import {
  CompleteTaskDocument,
  CreateTaskDocument,
  createTaskgraphClient,
  SyncRetentionDocument,
  type TaskgraphClient,
  type TaskgraphClientOptions,
  TaskgraphError,
  TaskHistoryDocument,
  TasksDocument,
  TaskUpdatesDocument,
  type TaskUpdatesSubscription,
  UpdateTaskDocument,
} from './index.js';

let system: RunningSystem;
const clients: TaskgraphClient[] = [];

beforeAll(async () => {
  system = await startSystem();
});

afterAll(async () => {
  for (const client of clients) await client.dispose();
  await system?.close();
});

async function clientFor(user: string, options: Partial<TaskgraphClientOptions> = {}): Promise<TaskgraphClient> {
  const client = createTaskgraphClient({
    url: system.gatewayUrl,
    token: await system.tokenFor(user),
    webSocketImpl: WebSocket,
    ...options,
  });
  clients.push(client);
  return client;
}

/** The rejection of `promise` as a TaskgraphError (fails the test when it resolves). */
async function failure(promise: Promise<unknown>): Promise<TaskgraphError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TaskgraphError);
  return error as TaskgraphError;
}

type Update = TaskUpdatesSubscription['taskUpdates'];

/** Collects a subscription's events; `until` waits for a condition on them. */
function collector() {
  const items: Update[] = [];
  const errors: TaskgraphError[] = [];
  let changed = () => {};
  const until = async (check: () => boolean, what: string, timeout = 10_000) => {
    const deadline = Date.now() + timeout;
    while (!check()) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}; got ${items.length} items, errors ${errors.map((e) => e.code)}`);
      await new Promise<void>((resolve) => {
        changed = resolve;
        setTimeout(resolve, 100);
      });
    }
  };
  return {
    items,
    errors,
    until,
    next: (data: TaskUpdatesSubscription) => {
      items.push(data.taskUpdates);
      changed();
    },
    error: (error: TaskgraphError) => {
      errors.push(error);
      changed();
    },
  };
}

describe('queries and mutations', () => {
  it('are typed end to end and federate across subgraphs', async () => {
    const alice = await clientFor('client-alice');
    const { createTask } = await alice.mutate(CreateTaskDocument, {
      input: { title: 'typed', priority: 'HIGH', tags: ['client'], dueAt: '2030-05-01T10:00:00Z', reminders: [{ offset: 'PT30M' }] },
    });
    expect(createTask).toMatchObject({
      title: 'typed',
      priority: 'HIGH',
      tags: ['client'],
      version: 1,
      reminderRules: [{ offset: 'PT30M' }],
    });
    const { updateTask } = await alice.mutate(UpdateTaskDocument, { id: createTask.id, input: { title: 'typed!' }, expectedVersion: 1 });
    expect(updateTask.version).toBe(2);

    const { tasks } = await alice.query(TasksDocument, { filter: { tags: ['client'] }, first: 10 });
    expect(tasks.edges.map((e) => e.node.title)).toEqual(['typed!']);

    // Task.history comes from the audit subgraph, which records from events: poll briefly.
    let actions: string[] = [];
    for (let i = 0; i < 50 && actions.length < 2; i++) {
      const { task } = await alice.query(TaskHistoryDocument, { id: createTask.id });
      actions = task?.history?.edges.map((e) => e.node.action) ?? [];
      if (actions.length < 2) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(actions).toEqual(['UPDATED', 'CREATED']);
  });

  it('reject with the error code of the gateway registry', async () => {
    const alice = await clientFor('client-errors');
    const { createTask } = await alice.mutate(CreateTaskDocument, { input: { title: 'v1' } });
    await alice.mutate(CompleteTaskDocument, { id: createTask.id, expectedVersion: 1 });

    const conflict = await failure(alice.mutate(UpdateTaskDocument, { id: createTask.id, input: { title: 'stale' }, expectedVersion: 1 }));
    expect(conflict.code).toBe('CONFLICT');
    expect(conflict.status).toBe(200);

    const bob = await clientFor('client-bob');
    const notFound = await failure(bob.mutate(CompleteTaskDocument, { id: createTask.id }));
    expect(notFound.code).toBe('NOT_FOUND');
    expect(notFound.errors[0]?.path).toEqual(['completeTask']);

    const invalid = await failure(alice.mutate(CreateTaskDocument, { input: { title: 'x', recurrence: 'FREQ=NEVER' } }));
    expect(invalid.code).toBe('BAD_USER_INPUT');

    const anonymous = createTaskgraphClient({ url: system.gatewayUrl, token: 'not-a-jwt', webSocketImpl: WebSocket });
    const unauthenticated = await failure(anonymous.query(TasksDocument));
    expect(unauthenticated).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });

    const nowhere = createTaskgraphClient({ url: 'http://127.0.0.1:1/graphql', token: 'x', webSocketImpl: WebSocket });
    expect((await failure(nowhere.query(TasksDocument))).code).toBe('NETWORK_ERROR');
  });
});

describe('subscriptions', () => {
  it('deliver task updates with the task resolved across subgraphs', async () => {
    const carol = await clientFor('client-carol');
    const { syncRetention } = await carol.query(SyncRetentionDocument);
    const feed = collector();
    const sub = carol.subscribe(TaskUpdatesDocument, { variables: { after: syncRetention.latestCursor }, ...feed });

    const { createTask } = await carol.mutate(CreateTaskDocument, { input: { title: 'live one', tags: ['feed'] } });
    await feed.until(() => feed.items.length >= 1, 'the CREATED update');
    expect(feed.items[0]).toMatchObject({ op: 'CREATED', taskId: createTask.id, version: 1, task: { title: 'live one', tags: ['feed'] } });
    expect(sub.cursor).toBe(feed.items[0]!.cursor);
    sub.unsubscribe();
  });

  it('resume after a dropped socket from the last cursor: what was missed is replayed, no gap, no duplicate', async () => {
    const sockets: WebSocket[] = [];
    class TrackedWebSocket extends WebSocket {
      constructor(...args: ConstructorParameters<typeof WebSocket>) {
        super(...args);
        sockets.push(this);
      }
    }
    // Hold the reconnect until the test has made changes while the client was away.
    let releaseReconnect = () => {};
    const reconnectAllowed = new Promise<void>((resolve) => {
      releaseReconnect = resolve;
    });
    const states: string[] = [];
    const dave = await clientFor('client-dave', {
      webSocketImpl: TrackedWebSocket,
      retryWait: () => reconnectAllowed,
      onConnectionChange: (state) => states.push(state),
    });
    const { syncRetention } = await dave.query(SyncRetentionDocument);
    const feed = collector();
    const sub = dave.subscribe(TaskUpdatesDocument, { variables: { after: syncRetention.latestCursor }, ...feed });

    const create = async (title: string) => (await dave.mutate(CreateTaskDocument, { input: { title } })).createTask.id;
    const before = [await create('before 1'), await create('before 2')];
    await feed.until(() => feed.items.length >= 2, 'the updates before the drop');
    const cursorAtDrop = sub.cursor;
    expect(cursorAtDrop).toBe(feed.items[1]!.cursor);

    sockets[0]!.terminate(); // abrupt: no close frame, as when a network path dies
    await feed.until(() => states.includes('closed'), 'the socket to close');
    const whileAway = [await create('away 1'), await create('away 2'), await create('away 3')];
    releaseReconnect();
    await feed.until(() => feed.items.length >= 5, 'the missed updates after reconnect');
    const after = await create('after');
    await feed.until(() => feed.items.length >= 6, 'the live update after resume');
    await new Promise((resolve) => setTimeout(resolve, 200)); // a duplicate would arrive now

    expect(sockets).toHaveLength(2);
    expect(feed.errors).toEqual([]);
    expect(feed.items.map((u) => u.taskId)).toEqual([...before, ...whileAway, after]);
    // Cursors are opaque (no order to read from them): the order is the taskIds above; each is distinct.
    expect(new Set(feed.items.map((u) => u.cursor)).size).toBe(6);
    expect(sub.cursor).toBe(feed.items[5]!.cursor);
    sub.unsubscribe();
  });

  it('resume when the gateway ends them (token expired mid-stream): a fresh token, from the last cursor, no error', async () => {
    let issued = 0;
    const frank = await clientFor('client-frank', {
      token: async () => {
        issued++;
        return system.tokenFor('client-frank', { ttlSeconds: 2 });
      },
      retryWait: () => new Promise((resolve) => setTimeout(resolve, 50)),
    });
    const { syncRetention } = await frank.query(SyncRetentionDocument);
    const feed = collector();
    const sub = frank.subscribe(TaskUpdatesDocument, { variables: { after: syncRetention.latestCursor }, ...feed });
    const create = async (title: string) => (await frank.mutate(CreateTaskDocument, { input: { title } })).createTask.id;
    const ids = [await create('before expiry')];
    await feed.until(() => feed.items.length >= 1, 'the update before expiry');
    const socketsBefore = issued;
    // The gateway ends the subscription (UNAUTHENTICATED "Token expired") and closes 4403.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    ids.push(await create('after expiry'));
    await feed.until(() => feed.items.length >= 2, 'the update after expiry', 15_000);
    await new Promise((resolve) => setTimeout(resolve, 200)); // a duplicate would arrive now

    expect(feed.errors).toEqual([]);
    expect(feed.items.map((u) => u.taskId)).toEqual(ids);
    expect(sub.cursor).toBe(feed.items[1]!.cursor);
    // A new connection_init with a newly issued token.
    expect(issued).toBeGreaterThan(socketsBefore + 1);
    sub.unsubscribe();
  });

  it('map coded WebSocket closes to typed errors: a refused token is UNAUTHENTICATED and not retried', async () => {
    let connects = 0;
    class CountingWebSocket extends WebSocket {
      constructor(...args: ConstructorParameters<typeof WebSocket>) {
        super(...args);
        connects++;
      }
    }
    const mallory = await clientFor('client-mallory', { token: 'not-a-jwt', webSocketImpl: CountingWebSocket });
    const feed = collector();
    mallory.subscribe(TaskUpdatesDocument, { ...feed });
    await feed.until(() => feed.errors.length > 0, 'the error');
    await new Promise((resolve) => setTimeout(resolve, 300)); // a retry would connect again now
    expect(feed.errors).toHaveLength(1);
    expect(feed.errors[0]).toBeInstanceOf(TaskgraphError);
    expect(feed.errors[0]).toMatchObject({ code: 'UNAUTHENTICATED', message: 'Invalid token' });
    expect(connects).toBe(1);
  });

  it('surface RESYNC_REQUIRED to the caller and stop, instead of retrying a lost position', async () => {
    const erin = await clientFor('client-erin');
    const feed = collector();
    let completed = false;
    // A well-formed cursor this server never issued to erin (e.g. kept across a reset or a key change).
    erin.subscribe(TaskUpdatesDocument, { variables: { after: 'A'.repeat(50) }, ...feed, complete: () => (completed = true) });
    await feed.until(() => feed.errors.length > 0, 'the error');
    expect(feed.errors).toHaveLength(1);
    expect(feed.errors[0]).toMatchObject({ code: 'RESYNC_REQUIRED' });
    expect(feed.items).toEqual([]);
    expect(completed).toBe(false);
  });
});
