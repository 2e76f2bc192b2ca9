/**
 * Realtime, end to end: real tasks, audit, notifications and sync subgraphs behind the real
 * gateway; clients use graphql-ws on the gateway's `/graphql`. Mutations go over HTTP, updates
 * flow tasks → outbox → bus → sync → gateway (federated subscription: `task` resolved on tasks
 * and audit per event) → client.
 */
import { DEV_INTERNAL_TOKEN_SECRET } from '@taskgraph/runtime';
import { createCursorCodec } from '@taskgraph/subgraph-sync';
import { connectGateway, eventually, type GatewayClient, gatewayWebSocketUrl, type RunningSystem, startSystem } from '@taskgraph/testing';
import { WebSocket } from 'ws';

let system: RunningSystem;
const clients: GatewayClient[] = [];

beforeAll(async () => {
  system = await startSystem({
    // Small per-subscription buffers and a short stall so the slow-consumer case needs few (large) updates.
    gateway: { subscriptions: { maxBufferedMessages: 20, maxBufferedBytes: 256 * 1024, stallTimeoutMs: 1_000, closeGraceMs: 30_000 } },
  });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await system?.close();
});

type Update = {
  cursor: string;
  op: string;
  taskId: string;
  task: { title: string; history: { edges: { node: { action: string } }[] } } | null;
};
const FULL = `subscription($after: Cursor) {
  taskUpdates(after: $after) { cursor op taskId task { title history { edges { node { action } } } } }
}`;

async function connect(userId: string): Promise<GatewayClient> {
  const client = connectGateway(system.gatewayUrl, await system.tokenFor(userId));
  clients.push(client);
  return client;
}

async function mutate<T = { id: string; version: number }>(as: string, mutation: string, variables: Record<string, unknown>): Promise<T> {
  const res = await system.graphql<Record<string, T>>(mutation, variables, as);
  expect(res.errors).toBeUndefined();
  return Object.values(res.data!)[0]!;
}

const createTask = (as: string, title: string, notes?: string) =>
  mutate(as, 'mutation($i: CreateTaskInput!) { createTask(input: $i) { id version } }', { i: { title, ...(notes ? { notes } : {}) } });
const renameTask = (as: string, id: string, title: string) =>
  mutate(as, 'mutation($id: ID!, $t: String!) { updateTask(id: $id, input: { title: $t }) { id version } }', { id, t: title });
const completeTask = (as: string, id: string) => mutate(as, 'mutation($id: ID!) { completeTask(id: $id) { id version } }', { id });

/** The newest cursor now: subscribing `after` it misses nothing that happens later (sync's contract). */
async function latestCursor(as: string): Promise<string | null> {
  const res = await system.graphql<{ syncRetention: { latestCursor: string | null } }>('{ syncRetention { latestCursor } }', {}, as);
  expect(res.errors).toBeUndefined();
  return res.data!.syncRetention.latestCursor;
}

/**
 * Cursors are opaque and per user (sync feed/cursor-codec.ts); the test knows the dev secret, so it
 * can check their order where a client cannot.
 */
const cursorCodec = createCursorCodec(DEV_INTERNAL_TOKEN_SECRET);
const byCursorOf = (user: string) => (a: string, b: string) => {
  const [x, y] = [cursorCodec.decode(user, a), cursorCodec.decode(user, b)];
  if (x === undefined || y === undefined) throw new Error(`not cursors of ${user}: ${a}, ${b}`);
  return x < y ? -1 : x > y ? 1 : 0;
};

describe('realtime through the gateway', () => {
  it('refuses a subscription sent over HTTP with a coded error', async () => {
    const res = await system.graphql('subscription { taskUpdates { cursor } }', {}, 'http-user');
    expect(res.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_REQUEST']);
  });

  it("delivers a user's changes with fields from tasks and audit, and nothing of them to another user", async () => {
    const [alice, bob] = [await connect('rt-alice'), await connect('rt-bob')];
    const aliceSub = alice.subscribe<{ taskUpdates: Update }>(FULL, { after: await latestCursor('rt-alice') });
    const bobSub = bob.subscribe<{ taskUpdates: Update }>(FULL, { after: await latestCursor('rt-bob') });

    const task = await createTask('rt-alice', 'ship realtime');
    await aliceSub.waitFor(1, 10_000);
    await completeTask('rt-alice', task.id);
    const [created, completed] = (await aliceSub.waitFor(2, 10_000)).map((r) => r.data!.taskUpdates);
    expect(created).toMatchObject({ op: 'CREATED', taskId: task.id, task: { title: 'ship realtime' } });
    expect(completed).toMatchObject({ op: 'COMPLETED', taskId: task.id, task: { title: 'ship realtime' } });
    expect(byCursorOf('rt-alice')(created!.cursor, completed!.cursor)).toBe(-1);
    // `history` comes from audit; by the completion its CREATED entry is recorded.
    expect(completed!.task!.history.edges.map((e) => e.node.action)).toContain('CREATED');
    expect(aliceSub.results.every((r) => r.errors === undefined)).toBe(true);

    // Bob's stream is live (his own change arrives) and carries nothing of Alice's.
    const own = await createTask('rt-bob', 'bob private');
    const [bobUpdate] = await bobSub.waitFor(1, 10_000);
    expect(bobUpdate!.data!.taskUpdates).toMatchObject({ op: 'CREATED', taskId: own.id, task: { title: 'bob private' } });
    expect(bobSub.results.map((r) => r.data!.taskUpdates.taskId)).toEqual([own.id]);
  });

  it('resumes from the last cursor: exactly the missed changes, then live ones, no duplicates', async () => {
    const first = await connect('rt-carol');
    const sub = first.subscribe<{ taskUpdates: Update }>(FULL, { after: await latestCursor('rt-carol') });
    const task = await createTask('rt-carol', 'v0');
    const [seen] = await sub.waitFor(1, 10_000);
    const lastCursor = seen!.data!.taskUpdates.cursor;
    await first.close();

    for (const title of ['v1', 'v2', 'v3']) await renameTask('rt-carol', task.id, title);

    const second = await connect('rt-carol');
    const resumed = second.subscribe<{ taskUpdates: Update }>(FULL, { after: lastCursor });
    const replayed = (await resumed.waitFor(3, 10_000)).map((r) => r.data!.taskUpdates);
    expect(replayed.map((u) => u.op)).toEqual(['UPDATED', 'UPDATED', 'UPDATED']);
    expect(replayed.map((u) => u.taskId)).toEqual([task.id, task.id, task.id]);

    await renameTask('rt-carol', task.id, 'v4');
    const all = (await resumed.waitFor(4, 10_000)).map((r) => r.data!.taskUpdates);
    // Let anything that would be a duplicate arrive before checking.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const cursors = resumed.results.map((r) => r.data!.taskUpdates.cursor);
    expect(cursors).toHaveLength(4);
    expect(new Set(cursors).size).toBe(4);
    expect([...cursors].sort(byCursorOf('rt-carol'))).toEqual(cursors);
    expect(byCursorOf('rt-carol')(lastCursor, cursors[0]!)).toBe(-1);
    expect(all[3]!.task!.title).toBe('v4');
  });

  it('closes a client that stops reading once its buffer fills, while another keeps receiving', async () => {
    const user = 'rt-dave';
    const after = await latestCursor(user);
    const healthy = await connect(user);
    const healthySub = healthy.subscribe<{ taskUpdates: { cursor: string } }>(
      'subscription($a: Cursor) { taskUpdates(after: $a) { cursor } }',
      {
        a: after,
      },
    );

    // A raw graphql-transport-ws client selecting large updates (20 × 20 000-character notes).
    const stuck = new WebSocket(gatewayWebSocketUrl(system.gatewayUrl), 'graphql-transport-ws');
    const received: string[] = [];
    stuck.on('message', (data) => received.push(String(data)));
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      stuck.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
    );
    await new Promise((resolve) => stuck.once('open', resolve));
    stuck.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${await system.tokenFor(user)}` } }));
    await eventually(() => received.some((m) => m.includes('connection_ack')), 5_000, 'connection_ack');
    const notes = Array.from({ length: 20 }, (_, i) => `n${i}: notes`).join(' ');
    stuck.send(
      JSON.stringify({
        id: 'big',
        type: 'subscribe',
        payload: { query: `subscription($a: Cursor) { taskUpdates(after: $a) { cursor task { ${notes} } } }`, variables: { a: after } },
      }),
    );
    const subs = system.gateway.subscriptions;
    await eventually(() => subs.stats().subscriptions >= 2, 5_000, 'both subscriptions served');
    const slowBefore = (await subs.metrics.slowConsumers.get()).values[0]?.value ?? 0;
    (stuck as unknown as { _socket: { pause(): void } })._socket.pause();

    const task = await createTask(user, 'big', 'x'.repeat(20_000));
    let updates = 1;
    // Each update is ~400 kB for the stuck client: loopback TCP holds a few MB, then its buffer fills
    // and stays full: after stallTimeoutMs without a read it is a slow consumer.
    for (; updates < 30; updates++) await renameTask(user, task.id, `big ${updates}`);
    await eventually(
      async () => (await subs.metrics.slowConsumers.get()).values[0]?.value === slowBefore + 1,
      10_000,
      'the stuck client closed as a slow consumer',
    );
    await healthySub.waitFor(updates, 15_000);
    expect(healthySub.results.map((r) => r.data!.taskUpdates.cursor)).toHaveLength(updates);

    (stuck as unknown as { _socket: { resume(): void } })._socket.resume();
    expect(await closed).toEqual({ code: 1013, reason: expect.stringMatching(/^SLOW_CONSUMER: /) });
    // The healthy client keeps receiving after the stuck one is gone.
    await renameTask(user, task.id, 'after');
    await healthySub.waitFor(updates + 1, 10_000);
  });
});
