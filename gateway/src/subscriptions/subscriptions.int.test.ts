/**
 * Federated subscriptions through the real gateway (createGateway) against fixture subgraphs:
 * `feed` serves `Subscription.taskUpdates` over graphql-ws, `tasks` and `audit` resolve the
 * event's `Task` over HTTP. Real sockets on port 0, real graphql-ws clients.
 */
import { connectGateway, eventually, type GatewayClient, gatewayWebSocketUrl, testGatewayConfig } from '@taskgraph/testing';
import { WebSocket, WebSocketServer } from 'ws';
import { createGateway, type Gateway } from '../app.js';
import { signDevToken } from '../auth.js';
import { DEFAULT_JWT_AUDIENCE, DEFAULT_JWT_ISSUER, DEV_JWT_SECRET } from '../config.js';
import {
  type FixtureEntitySubgraph,
  type FixtureFeedSubgraph,
  FixtureWorld,
  fixtureSupergraph,
  startEntitySubgraph,
  startFeedSubgraph,
} from '../fixtures/subscription-subgraphs.js';

const tokenFor = (userId: string, ttlSeconds?: number) =>
  signDevToken(userId, {
    secret: DEV_JWT_SECRET,
    issuer: DEFAULT_JWT_ISSUER,
    audience: DEFAULT_JWT_AUDIENCE,
    ...(ttlSeconds ? { ttlSeconds } : {}),
  });

const FULL = 'subscription Full { taskUpdates { cursor op task { title history { action } } } }';
type Update = { cursor: number; op: string; task: { title: string; history: { action: string }[] } | null };

let world: FixtureWorld;
let feed: FixtureFeedSubgraph;
let tasks: FixtureEntitySubgraph;
let audit: FixtureEntitySubgraph;
let gateway: Gateway;
const delays = new Map<string, number>();
const clients: GatewayClient[] = [];
let taskSeq = 0;
const newTaskId = () => `t${++taskSeq}`;

async function client(userId: string): Promise<GatewayClient> {
  const c = connectGateway(gateway.url, await tokenFor(userId));
  clients.push(c);
  return c;
}

/** Waits until the gateway serves `count` client subscriptions (the upstream is being opened). */
const serving = (count: number) => eventually(() => gateway.subscriptions.stats().subscriptions === count, 5_000, `${count} subscriptions`);
/** Waits until the feed has `count` live source streams (events published now are seen). */
const feedActive = (count: number) => eventually(() => feed.log.active === count, 5_000, `${count} feed streams`);

beforeAll(async () => {
  world = new FixtureWorld();
  feed = await startFeedSubgraph(world);
  tasks = await startEntitySubgraph('tasks', world, { delayMs: (id) => delays.get(id) ?? 0 });
  audit = await startEntitySubgraph('audit', world);
  const urls = { feed: feed.url, tasks: tasks.url, audit: audit.url };
  gateway = await createGateway(
    testGatewayConfig({ kind: 'sdl', sdl: fixtureSupergraph(urls) }, urls, {
      subscriptions: {
        maxBufferedMessages: 20,
        maxBufferedBytes: 256 * 1024,
        // > pauseUpstreamAt + one 64 KiB socket read of the lightest events (~600), < the 1,000-event backlogs.
        maxPendingEvents: 900,
        // Long enough for a pong queued behind a 1,000-result replay in this same process.
        keepAliveMs: 2_000,
        upstreamKeepAliveMs: 100,
        closeGraceMs: 30_000,
      },
    }),
  );
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await eventually(
    () => gateway.subscriptions.stats().subscriptions === 0 && gateway.subscriptions.stats().upstreams === 0 && feed.log.active === 0,
    5_000,
    () => `no subscriptions left (${JSON.stringify({ ...gateway.subscriptions.stats(), feedActive: feed.log.active })})`,
  );
});

afterAll(async () => {
  await gateway?.close();
  await feed?.close();
  await tasks?.close();
  await audit?.close();
});

describe('federated subscriptions', () => {
  it('runs the primary on the feed and resolves each event across tasks and audit, as the caller', async () => {
    const alice = await client('alice');
    const sub = alice.subscribe<{ taskUpdates: Update }>(FULL);
    await feedActive(1);
    const id = newTaskId();
    world.change('alice', id, 'CREATED', 'write docs');
    world.change('alice', id, 'COMPLETED');
    const results = await sub.waitFor(2);
    expect(results.map((r) => r.data?.taskUpdates)).toEqual([
      {
        cursor: expect.any(Number),
        op: 'CREATED',
        task: { title: 'write docs', history: [{ action: 'CREATED' }, { action: 'COMPLETED' }] },
      },
      {
        cursor: expect.any(Number),
        op: 'COMPLETED',
        task: { title: 'write docs', history: [{ action: 'CREATED' }, { action: 'COMPLETED' }] },
      },
    ]);
    expect(results.every((r) => r.errors === undefined)).toBe(true);
    // The feed saw alice's internal token; entity fetches ran as alice on both subgraphs.
    expect(feed.log.connections.at(-1)?.userId).toBe('alice');
    expect(tasks.log.resolved.filter((r) => r.id === id).map((r) => r.userId)).toEqual(['alice', 'alice']);
    expect(audit.log.resolved.filter((r) => r.id === id).map((r) => r.userId)).toEqual(['alice', 'alice']);
  });

  it('shapes results to the client operation: aliases, fragments, __typename, variables', async () => {
    const alice = await client('alice');
    const sub = alice.subscribe<Record<string, unknown>>(
      `subscription Shaped($ids: [ID!]) {
        u: taskUpdates(taskIds: $ids) { __typename c: cursor task { ...T } }
      }
      fragment T on Task { __typename name: title h: history { a: action } }`,
      { ids: ['shaped-1'] },
    );
    await feedActive(1);
    world.change('alice', 'ignored-1', 'CREATED', 'not this one');
    world.change('alice', 'shaped-1', 'CREATED', 'this one');
    const [result] = await sub.waitFor(1);
    expect(result).toEqual({
      data: {
        u: { __typename: 'TaskUpdate', c: expect.any(Number), task: { __typename: 'Task', name: 'this one', h: [{ a: 'CREATED' }] } },
      },
    });
  });

  it("keeps users apart: bob receives nothing of alice's changes", async () => {
    const [alice, bob] = [await client('alice'), await client('bob')];
    const aliceSub = alice.subscribe<{ taskUpdates: Update }>(FULL);
    const bobSub = bob.subscribe<{ taskUpdates: Update }>(FULL);
    await feedActive(2);
    world.change('alice', newTaskId(), 'CREATED', 'alice only');
    const bobTask = newTaskId();
    world.change('bob', bobTask, 'CREATED', 'bob only');
    await aliceSub.waitFor(1);
    const [bobResult] = await bobSub.waitFor(1);
    expect(aliceSub.results.map((r) => r.data?.taskUpdates.task?.title)).toEqual(['alice only']);
    expect(bobSub.results.map((r) => r.data?.taskUpdates.task?.title)).toEqual(['bob only']);
    expect(bobResult!.data?.taskUpdates.op).toBe('CREATED');
  });

  it('shares one upstream per (operation, variables, user) and tears everything down when clients leave', async () => {
    const before = feed.log.subscribes;
    const [a1, a2, a3, b1] = [await client('alice'), await client('alice'), await client('alice'), await client('bob')];
    const subs = [
      a1.subscribe(FULL),
      a2.subscribe(FULL),
      // Same primary fetch (`taskUpdates { cursor op task { __typename id } }`), different rest.
      a3.subscribe('subscription Full { taskUpdates { cursor op task { history { action } } } }'),
      b1.subscribe(FULL),
    ];
    await serving(4);
    await feedActive(2);
    expect(feed.log.subscribes - before).toBe(2);
    expect(gateway.subscriptions.stats()).toMatchObject({ subscriptions: 4, pipelines: 3, upstreams: 2, upstreamConnections: 2 });

    world.change('alice', newTaskId(), 'CREATED', 'shared');
    const [r1, r2, r3] = await Promise.all([subs[0]!.waitFor(1), subs[1]!.waitFor(1), subs[2]!.waitFor(1)]);
    expect(r1[0]).toEqual(r2[0]);
    expect(r3[0]!.data).toEqual({ taskUpdates: { cursor: expect.any(Number), op: 'CREATED', task: { history: [{ action: 'CREATED' }] } } });

    // Different variables: a separate upstream.
    const filtered = a1.subscribe(FULL.replace('taskUpdates', 'taskUpdates(taskIds: ["x"])'));
    await serving(5);
    expect(gateway.subscriptions.stats().upstreams).toBe(3);
    filtered.dispose();

    await Promise.all([a1, a2, a3, b1].map((c) => c.close()));
    clients.length = 0;
    await eventually(() => gateway.subscriptions.stats().upstreams === 0 && feed.log.active === 0, 5_000, 'upstreams closed');
    expect(gateway.subscriptions.stats()).toEqual({ connections: 0, subscriptions: 0, pipelines: 0, upstreams: 0, upstreamConnections: 0 });
    const metrics = await (await fetch(new URL('/metrics', gateway.url))).text();
    expect(metrics).toMatch(/^subscription_upstreams_open\{[^}]*\} 0$/m);
    expect(metrics).toMatch(/^subscriptions_open\{[^}]*\} 0$/m);
  });

  it('writes every result as the exact message graphql-ws would send, in order per subscription, none after its complete', async () => {
    const token = await tokenFor('alice');
    const raw = new WebSocket(gatewayWebSocketUrl(gateway.url), 'graphql-transport-ws');
    const messages: string[] = [];
    raw.on('message', (data) => messages.push(String(data)));
    await new Promise((resolve) => raw.once('open', resolve));
    try {
      raw.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
      await eventually(() => messages.some((m) => m.includes('connection_ack')), 3_000, 'ack');
      // Two subscriptions of one connection on one shared pipeline, with ids that need escaping.
      const ids = ['a"1\u2028', 'b'];
      for (const id of ids) raw.send(JSON.stringify({ id, type: 'subscribe', payload: { query: FULL } }));
      await serving(2);
      await feedActive(1);
      // One task per event: an event's task is resolved as it is now.
      for (let i = 0; i < 10; i++) world.change('alice', newTaskId(), 'CREATED', `title ${i}`);
      const nexts = () => messages.map((m) => JSON.parse(m) as { id: string; type: string; payload: { data: { taskUpdates: Update } } });
      await eventually(() => nexts().filter((m) => m.type === 'next').length === 20, 5_000, '20 results');
      raw.send(JSON.stringify({ id: 'b', type: 'complete' }));
      world.change('alice', newTaskId(), 'CREATED', 'after b left');
      await eventually(() => nexts().filter((m) => m.type === 'next').length === 21, 5_000, 'the last result');
      raw.send(JSON.stringify({ id: ids[0], type: 'complete' }));
      await serving(0);
      for (const m of messages.slice(1)) {
        const parsed = JSON.parse(m);
        // Byte for byte what graphql-ws' stringifyMessage makes of the same message.
        expect(m).toBe(JSON.stringify({ id: parsed.id, type: parsed.type, payload: parsed.payload }));
      }
      const titles = (of: string) =>
        nexts()
          .filter((m) => m.id === of && m.type === 'next')
          .map((m) => m.payload.data.taskUpdates.task?.title);
      expect(titles(ids[0]!)).toEqual([...Array.from({ length: 10 }, (_, i) => `title ${i}`), 'after b left']);
      expect(titles('b')).toEqual(Array.from({ length: 10 }, (_, i) => `title ${i}`));
      const cursors = nexts()
        .filter((m) => m.id === ids[0])
        .map((m) => m.payload.data.taskUpdates.cursor);
      expect(cursors).toEqual([...cursors].sort((x, y) => x - y));
    } finally {
      raw.close();
    }
  });

  it('delivers events in upstream order even when their entity fetches finish out of order', async () => {
    const alice = await client('alice');
    const sub = alice.subscribe<{ taskUpdates: Update }>(FULL);
    await feedActive(1);
    const slow = newTaskId();
    const fast = newTaskId();
    delays.set(slow, 300);
    world.change('alice', slow, 'CREATED', 'slow');
    // A later turn, so the fast event's fetches are not batched with the slow one's.
    await new Promise((resolve) => setTimeout(resolve, 30));
    world.change('alice', fast, 'CREATED', 'fast');
    const results = await sub.waitFor(2);
    expect(results.map((r) => r.data?.taskUpdates.task?.title)).toEqual(['slow', 'fast']);
    delays.delete(slow);
  });

  it("batches concurrent events' entity fetches and splits results and errors back per event", async () => {
    const alice = await client('alice');
    const sub = alice.subscribe<{ taskUpdates: Update }>(FULL);
    await feedActive(1);
    const [ok, boom] = [newTaskId(), newTaskId()];
    const requestsBefore = tasks.log.requests;
    world.change('alice', ok, 'CREATED', 'fine');
    world.change('alice', boom, 'CREATED', 'boom');
    const [first, second] = await sub.waitFor(2);
    expect(first).toEqual({
      data: { taskUpdates: { cursor: expect.any(Number), op: 'CREATED', task: { title: 'fine', history: [{ action: 'CREATED' }] } } },
    });
    expect(second!.data).toEqual({ taskUpdates: { cursor: expect.any(Number), op: 'CREATED', task: null } });
    // Both tasks and audit fail for that entity; each error lands on this event only.
    const failure = expect.objectContaining({
      message: `Task ${boom} exploded`,
      path: ['taskUpdates', 'task'],
      extensions: expect.objectContaining({ code: 'NOT_FOUND' }),
    });
    expect(second!.errors).toEqual([failure, failure]);
    expect(tasks.log.requests - requestsBefore).toBe(1);
  });

  it('replays after a cursor then continues live, and passes RESYNC_REQUIRED through', async () => {
    const alice = await client('alice');
    const id = newTaskId();
    const first = world.change('alice', id, 'CREATED', 'resume');
    world.change('alice', id, 'UPDATED');
    world.change('alice', id, 'COMPLETED');
    const sub = alice.subscribe<{ taskUpdates: Update }>('subscription($after: Int) { taskUpdates(after: $after) { cursor op } }', {
      after: first.cursor,
    });
    await sub.waitFor(2);
    world.change('alice', id, 'REOPENED');
    const results = await sub.waitFor(3);
    expect(results.map((r) => r.data?.taskUpdates.op)).toEqual(['UPDATED', 'COMPLETED', 'REOPENED']);

    world.retainedAfter = world.log.length;
    const stale = alice.subscribe('subscription { taskUpdates(after: 0) { cursor } }');
    const [result] = await stale.waitFor(1);
    expect(result!.errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'RESYNC_REQUIRED' }) })]);
    expect(await stale.ended).toEqual({ kind: 'complete' });
    world.retainedAfter = 0;
  });

  it('replays a backlog larger than the pending-event bound by not reading the feed while behind', async () => {
    const alice = await client('alice');
    const id = newTaskId();
    const start = world.change('alice', id, 'CREATED', 'backlog');
    const total = 1_000; // > maxPendingEvents (900): only backpressure gets them all through
    // 1 kB events: after a pause, what the socket already read (one chunk) is still parsed.
    const padding = 'p'.repeat(1_024);
    for (let i = 1; i < total; i++) world.change('alice', id, 'UPDATED', undefined, padding);
    const sub = alice.subscribe<{ taskUpdates: { cursor: number; task: { title: string } } }>(
      'subscription($after: Int) { taskUpdates(after: $after, taskIds: ["' + id + '"]) { cursor padding task { title } } }',
      { after: start.cursor - 1 },
    );
    const results = await sub.waitFor(total, 30_000);
    expect(results.every((r) => r.errors === undefined && r.data?.taskUpdates.task.title === 'backlog')).toBe(true);
    const cursors = results.map((r) => r.data!.taskUpdates.cursor);
    expect(cursors).toEqual([...cursors].sort((a, b) => a - b));
    expect(new Set(cursors).size).toBe(total);
  }, 40_000);

  it('replays 1,000 light updates to a client reading at its own pace: no slow-consumer close, no gap, no duplicate', async () => {
    // The light selection resolves with no entity fetch, so results arrive far faster than one
    // socket write each: only flow control (pipeline waits for the client stream) keeps it open.
    const alice = await client('alice');
    const id = newTaskId();
    const start = world.change('alice', id, 'CREATED', 'light');
    const total = 1_000;
    for (let i = 1; i < total; i++) world.change('alice', id, 'UPDATED');
    const slowBefore = (await gateway.subscriptions.metrics.slowConsumers.get()).values[0]?.value ?? 0;
    const sub = alice.subscribe<{ taskUpdates: { cursor: number } }>(
      `subscription($after: Int) { taskUpdates(after: $after, taskIds: ["${id}"]) { cursor op } }`,
      { after: start.cursor - 1 },
    );
    await sub.waitFor(total, 20_000);
    world.change('alice', id, 'COMPLETED');
    const results = await sub.waitFor(total + 1, 5_000);
    const cursors = results.map((r) => r.data!.taskUpdates.cursor);
    expect(cursors).toEqual(Array.from({ length: total + 1 }, (_, i) => start.cursor + i));
    expect(alice.closes).toEqual([]);
    expect((await gateway.subscriptions.metrics.slowConsumers.get()).values[0]?.value ?? 0).toBe(slowBefore);
  }, 30_000);

  it('ends the subscription with UNAVAILABLE when the feed drops, then reconnects with a fresh internal token', async () => {
    const alice = await client('alice');
    const connectionsBefore = feed.log.connections.length;
    const sub = alice.subscribe(FULL);
    await feedActive(1);
    feed.dropConnections();
    const ended = await sub.ended;
    expect(ended).toEqual({
      kind: 'error',
      error: [expect.objectContaining({ extensions: expect.objectContaining({ code: 'UNAVAILABLE' }) })],
    });
    await eventually(() => gateway.subscriptions.stats().upstreams === 0, 5_000, 'upstream released');

    const again = alice.subscribe<{ taskUpdates: Update }>(FULL);
    await feedActive(1);
    world.change('alice', newTaskId(), 'CREATED', 'after the outage');
    await again.waitFor(1);
    expect(feed.log.connections.slice(connectionsBefore).map((c) => c.userId)).toEqual(['alice', 'alice']);
  });

  it('pings the feed and the client (keep-alive both ways); a client that stops answering is dropped', async () => {
    const pingsBefore = feed.log.pings;
    const alice = await client('alice');
    alice.subscribe(FULL);
    await feedActive(1);
    await eventually(() => feed.log.pings >= pingsBefore + 2, 3_000, 'gateway pings to the feed');

    const mute = new WebSocket(gatewayWebSocketUrl(gateway.url), 'graphql-transport-ws', { autoPong: false });
    const pinged = new Promise<void>((resolve) => mute.once('ping', () => resolve()));
    const closed = new Promise<number>((resolve) => mute.once('close', (code) => resolve(code)));
    await new Promise((resolve) => mute.once('open', resolve));
    mute.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${await tokenFor('alice')}` } }));
    await pinged;
    expect(await closed).toBe(1006);
  });

  it('runs queries over the socket through Apollo Server, as the caller', async () => {
    const alice = await client('alice');
    const id = newTaskId();
    world.change('alice', id, 'CREATED', 'query me');
    const sub = alice.subscribe(`query { task(id: "${id}") { title history { action } } }`);
    const [result] = await sub.waitFor(1);
    expect(result).toEqual({ data: { task: { title: 'query me', history: [{ action: 'CREATED' }] } } });
    expect(await sub.ended).toEqual({ kind: 'complete' });
  });

  it('refuses invalid operations with the same codes as HTTP', async () => {
    const alice = await client('alice');
    const invalid = alice.subscribe('subscription { taskUpdates { nope } }');
    expect(await invalid.ended).toEqual({
      kind: 'error',
      error: [expect.objectContaining({ extensions: expect.objectContaining({ code: 'GRAPHQL_VALIDATION_FAILED' }) })],
    });
    const deep = alice.subscribe(`subscription { taskUpdates { ${Array.from({ length: 31 }, (_, i) => `a${i}: cursor`).join(' ')} } }`);
    expect(await deep.ended).toEqual({
      kind: 'error',
      error: [expect.objectContaining({ extensions: expect.objectContaining({ code: 'BAD_USER_INPUT', limit: 'aliases' }) })],
    });
  });
});

describe('subscription auth', () => {
  it('closes 4403 when connection_init carries no or a bad token', async () => {
    const anonymous = connectGateway(gateway.url, undefined);
    clients.push(anonymous);
    expect(await anonymous.subscribe(FULL).ended).toMatchObject({ kind: 'error', error: { code: 4403 } });
    expect(anonymous.closes[0]).toEqual({ code: 4403, reason: expect.stringMatching(/^UNAUTHENTICATED: Authentication required/) });

    const forged = connectGateway(gateway.url, 'not-a-jwt');
    clients.push(forged);
    expect(await forged.subscribe(FULL).ended).toMatchObject({ kind: 'error', error: { code: 4403 } });
    expect(forged.closes[0]).toEqual({ code: 4403, reason: 'UNAUTHENTICATED: Invalid token' });
  });

  it('ends subscriptions with UNAUTHENTICATED and closes 4403 when the JWT expires', async () => {
    const shortLived = connectGateway(gateway.url, await tokenFor('alice', 2));
    clients.push(shortLived);
    const sub = shortLived.subscribe(FULL);
    await feedActive(1);
    const ended = await sub.ended;
    expect(ended).toEqual({ kind: 'error', error: [{ message: 'Token expired', extensions: { code: 'UNAUTHENTICATED' } }] });
    await eventually(() => shortLived.closes.length > 0, 3_000, 'close');
    expect(shortLived.closes[0]).toEqual({ code: 4403, reason: 'UNAUTHENTICATED: Token expired' });
  });
});

describe('slow consumers', () => {
  const limits = { maxBufferedMessages: 20, maxBufferedBytes: 256 * 1024, eventConcurrency: 8 };
  let own: Gateway;

  beforeAll(async () => {
    const urls = { feed: feed.url, tasks: tasks.url, audit: audit.url };
    // Client keep-alive off the test's path: a paused socket would otherwise be dropped by the
    // missed pong (1006) before the stall is noticed.
    own = await createGateway(
      testGatewayConfig({ kind: 'sdl', sdl: fixtureSupergraph(urls) }, urls, {
        subscriptions: { ...limits, stallTimeoutMs: 500, keepAliveMs: 60_000, closeGraceMs: 30_000 },
      }),
    );
  });
  afterAll(() => own?.close());

  it('ends a client that stops reading (SLOW_CONSUMER, 1013) within the memory bound; others sharing its pipeline carry on', async () => {
    const token = await tokenFor('alice');
    const healthy = connectGateway(own.url, token);
    clients.push(healthy);
    const query = 'subscription { taskUpdates { cursor padding } }';
    const healthySub = healthy.subscribe<{ taskUpdates: { cursor: number } }>(query);

    const stuck = new WebSocket(gatewayWebSocketUrl(own.url), 'graphql-transport-ws');
    const messages: string[] = [];
    stuck.on('message', (data) => messages.push(String(data)));
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      stuck.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
    );
    await new Promise((resolve) => stuck.once('open', resolve));
    stuck.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
    await eventually(() => messages.some((m) => m.includes('connection_ack')), 3_000, 'ack');
    stuck.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query } }));
    await eventually(() => own.subscriptions.stats().subscriptions === 2, 5_000, 'both subscribed');
    await feedActive(1);
    // Stop reading: the TCP window fills, then the gateway's per-subscription buffer.
    (stuck as unknown as { _socket: { pause(): void } })._socket.pause();

    const slowBefore = (await own.subscriptions.metrics.slowConsumers.get()).values[0]?.value ?? 0;
    const padding = 'x'.repeat(64 * 1024);
    const id = newTaskId();
    const total = 200; // 12.5 MiB: more than loopback TCP buffers (~4 MiB) plus every gateway buffer
    let peak = 0;
    const sampler = setInterval(() => {
      const b = own.subscriptions.buffers();
      peak = Math.max(peak, b.pipelineBytes + b.socketBytes);
    }, 5);
    try {
      for (let i = 0; i < total; i++) {
        world.change('alice', id, 'UPDATED', 'big', padding);
        if (i % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await eventually(() => own.subscriptions.stats().subscriptions === 1, 10_000, 'stuck subscription dropped');
      // Reading again, the client drains what TCP held, then the coded error and the close frame.
      (stuck as unknown as { _socket: { resume(): void } })._socket.resume();
      await healthySub.waitFor(total, 20_000);
    } finally {
      clearInterval(sampler);
    }
    expect((await own.subscriptions.metrics.slowConsumers.get()).values[0]?.value).toBe(slowBefore + 1);
    expect(healthySub.results.map((r) => r.data?.taskUpdates.cursor)).toEqual(
      Array.from({ length: total }, (_, i) => healthySub.results[0]!.data!.taskUpdates.cursor + i),
    );
    // The stated bound (README "Keep-alive and memory"): per client stream maxBufferedBytes + one
    // result, per pipeline maxBufferedBytes + (eventConcurrency + 1) results, plus one result in
    // each socket. Two streams share the pipeline here.
    const result = 64 * 1024 + 200;
    const bound = 2 * (limits.maxBufferedBytes + result) + limits.maxBufferedBytes + (limits.eventConcurrency + 1) * result + 2 * result;
    expect(peak).toBeGreaterThan(limits.maxBufferedBytes);
    expect(peak).toBeLessThanOrEqual(bound);

    expect(await closed).toEqual({ code: 1013, reason: expect.stringMatching(/^SLOW_CONSUMER: no result read for 500 ms/) });
    expect(messages.filter((m) => m.includes('"next"')).length).toBeLessThan(total);
    // The subscription never "completes": it ends with the coded error, when that could be written
    // within the flush window (the unit test of the policy proves the ordering).
    expect(messages.filter((m) => JSON.parse(m).type === 'complete')).toEqual([]);
    for (const m of messages.filter((m) => JSON.parse(m).type === 'error'))
      expect(JSON.parse(m).payload[0].extensions.code).toBe('SLOW_CONSUMER');
  }, 40_000);
});

describe('subscription source failures', () => {
  /** A graphql-ws "feed" that acknowledges, then never answers anything (hung process). */
  let frozen: WebSocketServer;
  let frozenUrl: string;
  let isolated: Gateway;

  beforeAll(async () => {
    frozen = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => 'graphql-transport-ws' });
    frozen.on('connection', (socket) => {
      socket.on('message', (data) => {
        if (JSON.parse(String(data)).type === 'connection_init') socket.send(JSON.stringify({ type: 'connection_ack' }));
      });
    });
    await new Promise((resolve) => frozen.once('listening', resolve));
    frozenUrl = `http://127.0.0.1:${(frozen.address() as { port: number }).port}/graphql`;
  });

  afterAll(async () => {
    await isolated?.close();
    for (const socket of frozen.clients) socket.terminate();
    await new Promise((resolve) => frozen.close(resolve));
  });

  async function gatewayWithFeedAt(feedUrl: string): Promise<Gateway> {
    const urls = { feed: feedUrl, tasks: tasks.url, audit: audit.url };
    return createGateway(
      testGatewayConfig({ kind: 'sdl', sdl: fixtureSupergraph(urls) }, urls, {
        subscriptions: { upstreamKeepAliveMs: 100, upstreamPongTimeoutMs: 200, upstreamAckTimeoutMs: 500 },
      }),
    );
  }

  it('closes clients (1001) and completes its upstreams on gateway shutdown', async () => {
    const urls = { feed: feed.url, tasks: tasks.url, audit: audit.url };
    const shortLived = await createGateway(testGatewayConfig({ kind: 'sdl', sdl: fixtureSupergraph(urls) }, urls));
    const alice = connectGateway(shortLived.url, await tokenFor('alice'));
    clients.push(alice);
    const sub = alice.subscribe(FULL);
    await feedActive(1);
    await shortLived.close();
    expect(await sub.ended).toMatchObject({ kind: 'error', error: { code: 1001 } });
    await eventually(() => feed.log.active === 0, 3_000, 'feed stream completed');
    expect(shortLived.subscriptions.stats()).toEqual({
      connections: 0,
      subscriptions: 0,
      pipelines: 0,
      upstreams: 0,
      upstreamConnections: 0,
    });
  });

  it('errors (UNAVAILABLE) instead of hanging when the feed is down or stops answering pings', async () => {
    expect.assertions(3);
    isolated = await gatewayWithFeedAt('http://127.0.0.1:1/graphql');
    const down = connectGateway(isolated.url, await tokenFor('alice'));
    clients.push(down);
    expect(await down.subscribe(FULL).ended).toEqual({
      kind: 'error',
      error: [expect.objectContaining({ extensions: expect.objectContaining({ code: 'UNAVAILABLE' }) })],
    });
    await isolated.close();

    isolated = await gatewayWithFeedAt(frozenUrl);
    const hung = connectGateway(isolated.url, await tokenFor('alice'));
    clients.push(hung);
    const started = Date.now();
    expect(await hung.subscribe(FULL).ended).toEqual({
      kind: 'error',
      error: [expect.objectContaining({ extensions: expect.objectContaining({ code: 'UNAVAILABLE' }) })],
    });
    expect(Date.now() - started).toBeLessThan(2_000);
    await hung.close();
    await eventually(() => isolated.subscriptions.stats().upstreamConnections === 0, 2_000, 'upstream connection dropped');
  });
});
