import { randomUUID } from 'node:crypto';
import { type DeliveredEvent, EventType, sleep } from '@taskgraph/events';
import {
  createLogger,
  type Database,
  DEV_INTERNAL_TOKEN_SECRET,
  INTERNAL_TOKEN_HEADER,
  signInternalToken,
  testServiceConfig,
} from '@taskgraph/runtime';
import { callSubgraph, createTestDatabase, type TestDatabase } from '@taskgraph/test-kit';
import type { Client } from 'graphql-ws';
import WebSocket from 'ws';
import { createService, type SyncService } from './app.js';
import { taskUpdateIngestBatch } from './events/task-update-ingest.js';
import {
  append,
  Collector,
  connect,
  cursorFor,
  openProducer,
  pg,
  reminderDueEvent,
  taskUpdateEvent,
  tokenFor,
  waitOffset,
  waitStored,
} from './fixtures/sync-harness.js';

const UPDATES = `subscription($filter: TaskUpdateFilter, $after: Cursor) {
  taskUpdates(filter: $filter, after: $after) { cursor op taskId version changedFields occurredAt task { __typename id } }
}`;
const REMINDERS = 'subscription { notificationReceived { notificationId taskId fireAt title body task { id } } }';

let testDb: TestDatabase;
let producer: Database;
let service: SyncService;
let sql: pg.Client;
const clients: Client[] = [];

async function client(userId: string | null, options: Parameters<typeof connect>[2] = {}, to: SyncService = service): Promise<Client> {
  const c = await connect(to.url, userId, options);
  clients.push(c);
  return c;
}

const http = (userId: string | null, query: string) => callSubgraph(service.url, userId, query);

/** A subscription that is registered on the server (its first replay query ran). */
async function subscribed(c: Client, variables: Record<string, unknown> = {}, query = UPDATES, extensions?: Record<string, unknown>) {
  const collector = new Collector(c, query, variables, extensions);
  // graphql-ws has no "subscribed" ack: wait until the server counts it (subscriptions_open).
  await sleep(60);
  return collector;
}

const user = () => `user-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  testDb = await createTestDatabase('sync');
  producer = await openProducer(testDb.url);
  service = await createService({
    ...testServiceConfig(testDb.url),
    sync: {
      instanceId: 'test-a',
      backfillPageSize: 7,
      subscriberQueueSize: 50,
      // Long enough that a loaded CI box (event-loop stalls of a few hundred ms) never trips it;
      // the keep-alive test below runs its own instance with a short interval.
      keepAliveMs: 5_000,
      retentionMaxPerUser: 5,
      pruneIntervalMs: 3_600_000,
    },
  });
  sql = new pg.Client({ connectionString: testDb.url });
  await sql.connect();
});

afterAll(async () => {
  for (const c of clients) await c.dispose();
  await sql?.end();
  await service?.close();
  await producer?.close();
  await testDb?.drop();
});

describe('sync subgraph', () => {
  it('serves its SDL for composition and syncRetention over HTTP only with the internal token', async () => {
    const sdl = await http('alice', '{ _service { sdl } }');
    expect(sdl.data?._service.sdl).toContain('taskUpdates(filter: TaskUpdateFilter, after: Cursor): TaskUpdate!');
    expect((await http(null, '{ syncRetention { retainedSeconds } }')).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const retention = await http('alice', '{ syncRetention { oldestCursor latestCursor retainedSeconds } }');
    expect(retention.data?.syncRetention).toMatchObject({ retainedSeconds: 86_400 });
    expect(retention.data?.syncRetention.latestCursor).toMatch(/^[A-Za-z0-9_-]{50}$/); // opaque (feed/cursor-codec.ts)
  });

  it('pushes each update only to its owner, with the TaskUpdate shape the gateway resolves', async () => {
    const [alice, bob] = [user(), user()];
    const forAlice = await subscribed(await client(alice));
    const forBob = await subscribed(await client(bob));
    const taskId = randomUUID();
    const started = performance.now();
    const [c1] = await append(producer, [
      taskUpdateEvent({ userId: alice, taskId, type: EventType.TaskCreated, tags: ['home'] }),
      taskUpdateEvent({ userId: bob, type: EventType.TaskCreated }),
    ]);
    const [c2] = await append(producer, [
      taskUpdateEvent({ userId: alice, taskId, version: 2, changes: { title: { from: 'a', to: 'b' }, notes: { from: null, to: 'x' } } }),
    ]);
    const [c3] = await append(producer, [taskUpdateEvent({ userId: alice, taskId, version: 3, type: EventType.TaskDeleted })]);
    await forAlice.count(3);
    await forBob.count(1);
    const latencyMs = forAlice.receivedAt[0]! - started;
    expect(forAlice.items.map((u) => [u.cursor, u.op, u.version])).toEqual([
      [cursorFor(alice, c1!), 'CREATED', 1],
      [cursorFor(alice, c2!), 'UPDATED', 2],
      [cursorFor(alice, c3!), 'DELETED', 3],
    ]);
    expect(forAlice.items[0]).toMatchObject({ taskId, changedFields: [], task: { __typename: 'Task', id: taskId } });
    expect(forAlice.items[1]).toMatchObject({ changedFields: ['notes', 'title'], task: { id: taskId } });
    expect(forAlice.items[2]!.task).toBeNull();
    expect(new Date(forAlice.items[0]!.occurredAt).toISOString()).toBe(forAlice.items[0]!.occurredAt);
    await sleep(100);
    expect(forBob.items).toHaveLength(1);
    expect(forBob.items[0]!.taskId).not.toBe(taskId);
    // Latency of 30 more, one at a time: commit of the append → the client has the message.
    const samples: number[] = [latencyMs];
    for (let i = 0; i < 30; i++) {
      const t0 = performance.now();
      await append(producer, [taskUpdateEvent({ userId: alice, taskId: randomUUID() })]);
      await forAlice.count(4 + i);
      samples.push(forAlice.receivedAt[3 + i]! - t0);
    }
    samples.sort((x, y) => x - y);
    const pct = (p: number) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]!.toFixed(1);
    console.info(
      `[sync] append→subscriber latency (embedded, ${samples.length} events): p50 ${pct(0.5)} ms, p95 ${pct(0.95)} ms, max ${pct(1)} ms`,
    );
  });

  it('filters by task ids and by tags (as of the update)', async () => {
    const u = user();
    const [t1, t2, t3] = [randomUUID(), randomUUID(), randomUUID()];
    const c = await client(u);
    const byId = await subscribed(c, { filter: { taskIds: [t1.toUpperCase(), 'not-a-uuid'] } });
    const byTag = await subscribed(c, { filter: { tags: ['work', 'urgent'] } });
    const both = await subscribed(c, { filter: { taskIds: [t2], tags: ['work'] } });
    const none = await subscribed(c, { filter: { taskIds: [] } });
    await append(producer, [taskUpdateEvent({ userId: u, taskId: t1, tags: ['home'] })]);
    await append(producer, [taskUpdateEvent({ userId: u, taskId: t2, tags: ['work'] })]);
    await append(producer, [taskUpdateEvent({ userId: u, taskId: t3, tags: ['urgent', 'x'] })]);
    await append(producer, [taskUpdateEvent({ userId: u, taskId: t2, version: 2, tags: [] })]);
    await byId.count(1);
    await byTag.count(2);
    await both.count(1);
    await sleep(150);
    expect(byId.items.map((i) => i.taskId)).toEqual([t1]);
    expect(byTag.items.map((i) => i.taskId)).toEqual([t2, t3]);
    expect(both.items.map((i) => [i.taskId, i.version])).toEqual([[t2, 1]]);
    expect(none.items).toEqual([]);
    // The same filters apply to the replay.
    const replay = await subscribed(await client(u), { filter: { tags: ['work', 'urgent'] }, after: cursorFor(u, 0n) });
    await replay.count(2);
    expect(replay.items.map((i) => i.taskId)).toEqual([t2, t3]);
  });

  it('resumes after a disconnect with exactly the missed updates, then live, without duplicates', async () => {
    const u = user();
    const first = await client(u);
    const live = await subscribed(first);
    await append(producer, [taskUpdateEvent({ userId: u })]);
    await append(producer, [taskUpdateEvent({ userId: u })]);
    await live.count(2);
    const lastSeen = live.items[1]!.cursor;
    live.stop();
    await first.dispose();

    const missed: string[] = [];
    for (let i = 0; i < 3; i++) missed.push(...(await append(producer, [taskUpdateEvent({ userId: u, version: i + 1 })])));
    await waitStored(sql, missed[2]!);

    const resumed = await subscribed(await client(u), { after: lastSeen });
    await resumed.count(3);
    const after = await append(producer, [taskUpdateEvent({ userId: u }), taskUpdateEvent({ userId: u })]);
    await resumed.count(5);
    await sleep(100);
    expect(resumed.items.map((i) => i.cursor)).toEqual([...missed, ...after].map((seq) => cursorFor(u, seq)));
    expect(resumed.errors).toEqual([]);
  });

  it('loses and duplicates nothing when updates are appended while the replay runs (paged, buffer overflowing)', async () => {
    const u = user();
    const before: string[] = [];
    for (let i = 0; i < 6; i++) {
      before.push(
        ...(await append(
          producer,
          Array.from({ length: 10 }, (_, k) => taskUpdateEvent({ userId: u, version: i * 10 + k + 1 })),
        )),
      );
    }
    await waitStored(sql, before.at(-1)!);
    const resumeFrom = cursorFor(u, before[4]!);
    // 60 in the window after the cursor; 150 more appended concurrently in small transactions, while the
    // replay pages through 7 rows at a time and the 50-slot buffer overflows at least once.
    const during: Promise<string[]>[] = [];
    const writer = (async () => {
      for (let i = 0; i < 50; i++) {
        during.push(append(producer, [taskUpdateEvent({ userId: u }), taskUpdateEvent({ userId: u }), taskUpdateEvent({ userId: u })]));
        if (i % 5 === 0) await sleep(1);
      }
    })();
    const resumed = new Collector(await client(u), UPDATES, { after: resumeFrom });
    await writer;
    const appended = (await Promise.all(during)).flat();
    const expected = [...before.slice(5), ...appended].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1)).map((seq) => cursorFor(u, seq));
    await resumed.count(expected.length, 15_000);
    await sleep(150);
    const got = resumed.items.map((i) => i.cursor);
    expect(got).toHaveLength(expected.length);
    expect(new Set(got).size).toBe(got.length);
    expect(got).toEqual(expected);
    expect(resumed.errors).toEqual([]);
  });

  it('stores a consumer batch in one statement and hands each update on after commit, in log order', async () => {
    const u = user();
    const events = Array.from({ length: 8 }, (_, k) => taskUpdateEvent({ userId: u, version: k + 1, tags: k % 2 ? ['odd'] : [] }));
    const delivered = events.map((e, k) => ({ ...e, seq: String(9_000_000_000 + k) }) as DeliveredEvent);
    const old = {
      ...taskUpdateEvent({ userId: u, occurredAt: new Date(Date.now() - 400 * 86_400_000) }),
      seq: '9000000100',
    } as DeliveredEvent;
    const noSeq = { ...taskUpdateEvent({ userId: u }), seq: '0' } as DeliveredEvent;
    const handed: string[] = [];
    const ingest = taskUpdateIngestBatch({
      onStored: (update) => handed.push(update.cursor),
      logger: createLogger('sync-test', 'silent'),
      retentionMs: 86_400_000,
      touchedUsers: new Set(),
    });
    const statements: string[] = [];
    const knex = producer.fork().getConnection().getKnex();
    const listener = (q: { sql: string }) => statements.push(q.sql);
    knex.on('query', listener);
    let taken: ReadonlySet<string> = new Set();
    try {
      taken = await producer.fork().transactional(async (tx) => {
        const result = await ingest([...delivered, old, noSeq], tx);
        expect(handed).toEqual([]); // not before the commit
        return result;
      });
    } finally {
      knex.off('query', listener);
    }
    // The one without a log position is left to the handler (which drops it); the old one is taken as a no-op.
    expect([...taken].sort()).toEqual([...delivered, old].map((e) => e.id).sort());
    expect(statements.filter((q) => q.includes('insert into sync.task_update'))).toHaveLength(1);
    expect(handed).toEqual(delivered.map((e) => e.seq));
    const { rows } = await sql.query(
      'select cursor::text, version, tags, changed_fields from sync.task_update where user_id = $1 order by cursor',
      [u],
    );
    expect(rows.map((r) => r.cursor)).toEqual(delivered.map((e) => e.seq));
    expect(rows.map((r) => r.tags)).toEqual(delivered.map((_, k) => (k % 2 ? ['odd'] : [])));
    expect(rows[0].changed_fields).toEqual(Object.keys((events[0]!.data as { changes?: object }).changes ?? {}).sort());
    // These cursors are far past the log: leave the window as the service's own tests expect it.
    await sql.query('delete from sync.task_update where user_id = $1', [u]);
  });

  it('fails with RESYNC_REQUIRED for a cursor older than the retained window (cap and age), never silently', async () => {
    const u = user();
    const cursors: string[] = [];
    for (let i = 0; i < 8; i++) cursors.push(...(await append(producer, [taskUpdateEvent({ userId: u, version: i + 1 })])));
    await waitStored(sql, cursors[7]!);
    expect(await service.prune()).toBeGreaterThanOrEqual(3); // cap 5 per user: the 3 oldest go
    const c = await client(u);

    const tooOld = await subscribed(c, { after: cursorFor(u, cursors[1]!) });
    await tooOld.until((x) => x.errors.length > 0, 3_000, 'an error');
    expect(tooOld.errors[0]?.extensions?.code).toBe('RESYNC_REQUIRED');
    expect(tooOld.errors[0]?.extensions?.oldestCursor).toBe(cursorFor(u, cursors[2]!));
    expect(tooOld.errors[0]?.message).not.toMatch(/\d{2,}/); // no log position in words either
    expect(tooOld.items).toEqual([]);
    await tooOld.until((x) => x.completed, 3_000, 'complete');
    expect(tooOld.errorVia).toEqual(['next']); // a result with errors, then complete (graphql-js subscribe semantics)

    const retention = await http(u, '{ syncRetention { oldestCursor } }');
    expect(retention.data?.syncRetention.oldestCursor).toBe(cursorFor(u, cursors[2]!));
    const atWatermark = await subscribed(c, { after: cursorFor(u, cursors[2]!) });
    await atWatermark.count(5);
    expect(atWatermark.items.map((i) => i.cursor)).toEqual(cursors.slice(3).map((seq) => cursorFor(u, seq)));

    // Age: rows older than the retention are pruned too, and raise the watermark.
    await sql.query(`update sync.task_update set occurred_at = now() - interval '2 days' where cursor = $1`, [cursors[3]]);
    await service.prune();
    const aged = await subscribed(c, { after: cursorFor(u, cursors[2]!) });
    await aged.until((x) => x.errors.length > 0, 3_000, 'an error');
    expect(aged.errors[0]?.extensions?.code).toBe('RESYNC_REQUIRED');

    // A cursor ahead of the log (reset database) and a malformed one.
    const ahead = await subscribed(c, { after: cursorFor(u, 999_999_999_999n) });
    await ahead.until((x) => x.errors.length > 0, 3_000, 'an error');
    expect(ahead.errors[0]?.extensions?.code).toBe('RESYNC_REQUIRED');
    const malformed = await subscribed(c, { after: 'abc' });
    await malformed.until((x) => x.errors.length > 0, 3_000, 'an error');
    expect(malformed.errors[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const tooManyTags = await subscribed(c, { filter: { tags: Array.from({ length: 101 }, (_, i) => `t${i}`) } });
    await tooManyTags.until((x) => x.errors.length > 0, 3_000, 'an error');
    expect(tooManyTags.errors[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    console.info(
      `[sync] error transport: resync ${tooOld.errorVia}, malformed cursor ${malformed.errorVia}, filter ${tooManyTags.errorVia}`,
    );
    // Other users are not affected by this user's pruning.
    const other = user();
    const [o1] = await append(producer, [taskUpdateEvent({ userId: other })]);
    await waitStored(sql, o1!);
    const fine = await subscribed(await client(other), { after: cursorFor(other, cursors[1]!) });
    await fine.count(1);
    expect(fine.errors).toEqual([]);
  });

  it("tells bob nothing about alice's activity: his cursors and syncRetention are identical whether or not she made 50 changes", async () => {
    const [alice, bob] = [user(), user()];
    const bobView = async () => {
      const retention = (await http(bob, '{ syncRetention { oldestCursor latestCursor retainedSeconds } }')).data?.syncRetention;
      const replay = await subscribed(await client(bob), { after: retention.oldestCursor });
      await replay.count(3);
      await sleep(100);
      replay.stop();
      return { retention, cursors: replay.items.map((i) => i.cursor), errors: replay.errors };
    };
    const bobs: string[] = [];
    for (let i = 0; i < 3; i++) bobs.push(...(await append(producer, [taskUpdateEvent({ userId: bob, version: i + 1 })])));
    await waitStored(sql, bobs[2]!);
    const before = await bobView();

    const alices: string[] = [];
    for (let i = 0; i < 5; i++) {
      alices.push(
        ...(await append(
          producer,
          Array.from({ length: 10 }, (_, k) => taskUpdateEvent({ userId: alice, version: i * 10 + k + 1 })),
        )),
      );
    }
    await waitStored(sql, alices.at(-1)!);
    const after = await bobView();
    expect(after).toEqual(before); // byte-identical: latestCursor did not move, replayed cursors are the same strings
    expect(before.errors).toEqual([]);
    expect(before.cursors).toHaveLength(3);
    // The global log did move: alice's own latestCursor is her 50th change (so the check above could fail).
    const aliceRetention = (await http(alice, '{ syncRetention { latestCursor } }')).data?.syncRetention;
    expect(aliceRetention.latestCursor).toBe(cursorFor(alice, alices.at(-1)!));
    expect(after.retention.latestCursor).toBe(cursorFor(bob, bobs[2]!));

    // Alice's cursor in bob's hands: refused like an unknown one, with no position, old or new, in the answer.
    const stolen = await subscribed(await client(bob), { after: aliceRetention.latestCursor });
    await stolen.until((x) => x.errors.length > 0, 3_000, 'an error');
    expect(stolen.errors).toHaveLength(1);
    expect(stolen.errors[0]).toMatchObject({
      message: 'The cursor is not one of yours (or predates a key change): refetch, then subscribe again',
    });
    expect(stolen.errors[0]?.extensions).toEqual({ code: 'RESYNC_REQUIRED' });
    expect(stolen.items).toEqual([]);
  });

  it('refuses connections without a valid internal token with close code 4403', async () => {
    const codes: number[] = [];
    const forged = await signInternalToken('mallory', 'x'.repeat(40));
    const expired = await signInternalToken('mallory', DEV_INTERNAL_TOKEN_SECRET, -10);
    for (const token of [undefined, forged, expired]) {
      const c = await client(null, { ...(token ? { token } : {}), onClose: (code) => codes.push(code) });
      const collector = new Collector(c, UPDATES);
      await collector.until((x) => x.completed, 3_000, 'close');
    }
    expect(codes).toEqual([4403, 4403, 4403]);
  });

  it('runs an operation as the user of its own internal token when the subscribe payload carries one', async () => {
    const [gatewayUser, carol] = [user(), user()];
    const c = await client(gatewayUser);
    const asCarol = await subscribed(c, {}, UPDATES, { [INTERNAL_TOKEN_HEADER]: await tokenFor(carol) });
    const forged = new Collector(c, UPDATES, {}, { [INTERNAL_TOKEN_HEADER]: await signInternalToken(carol, 'y'.repeat(40)) });
    await append(producer, [taskUpdateEvent({ userId: gatewayUser }), taskUpdateEvent({ userId: carol })]);
    await asCarol.count(1);
    await forged.until((x) => x.errors.length > 0, 3_000, 'an error');
    expect(forged.errors[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    await sleep(100);
    expect(asCarol.items).toHaveLength(1);
  });

  it('streams the caller’s due reminders live (no replay, stale ones dropped)', async () => {
    const [dave, erin] = [user(), user()];
    const before = reminderDueEvent(dave, { title: 'before subscribing' });
    const [beforeSeq] = await append(producer, [before]);
    await waitOffset(sql, 'sync-test-a', 'reminders', beforeSeq!);
    const reminders = await subscribed(await client(dave), {}, REMINDERS);
    const taskId = randomUUID();
    await append(producer, [
      reminderDueEvent(erin),
      reminderDueEvent(dave, { title: 'stale', occurredAt: new Date(Date.now() - 3_600_000) }),
      reminderDueEvent(dave, { taskId, title: 'Pay rent' }),
    ]);
    await reminders.count(1);
    await sleep(150);
    expect(reminders.items).toEqual([expect.objectContaining({ taskId, title: 'Pay rent', body: 'due soon', task: { id: taskId } })]);
  });

  it('keeps idle connections alive with pings and terminates peers that stop answering', async () => {
    const keepAliveMs = 300;
    const pinging = await createService({
      ...testServiceConfig(testDb.url),
      sync: {
        instanceId: 'test-keepalive',
        backfillPageSize: 7,
        subscriberQueueSize: 50,
        keepAliveMs,
        retentionMaxPerUser: 5,
        pruneIntervalMs: 3_600_000,
      },
    });
    try {
      const u = user();
      // graphql-ws protocol pings from the client (what the gateway sends upstream) are answered with pongs.
      let pongs = 0;
      const idle = await subscribed(await client(u, { keepAlive: 100, onPong: () => pongs++ }, pinging));
      // A raw peer that completes the graphql-ws handshake but never answers pings.
      const silent = new WebSocket(pinging.url.replace(/^http/, 'ws'), 'graphql-transport-ws', { autoPong: false });
      const closed = new Promise<number>((resolve) => silent.on('close', (code) => resolve(code)));
      await new Promise((resolve) => silent.on('open', resolve));
      silent.send(JSON.stringify({ type: 'connection_init', payload: { [INTERNAL_TOKEN_HEADER]: await tokenFor(u) } }));
      const started = Date.now();
      const code = await closed;
      expect(code).toBe(1006); // terminated, no close frame
      expect(Date.now() - started).toBeLessThan(10 * keepAliveMs);
      await sleep(4 * keepAliveMs); // several keep-alive rounds for the idle client
      await append(producer, [taskUpdateEvent({ userId: u })]);
      await idle.count(1);
      expect(idle.completed).toBe(false);
      expect(pongs).toBeGreaterThanOrEqual(3);
    } finally {
      await pinging.close();
    }
  });

  it('reports subscriptions_open and the bus lag', async () => {
    const metric = async () => {
      const text = await (await fetch(service.url.replace('/graphql', '/metrics'))).text();
      return Number(/^subscriptions_open\{[^}]*\} (\d+)/m.exec(text)?.[1]);
    };
    const baseline = await metric();
    const c = await client(user());
    const a = await subscribed(c);
    const b = await subscribed(c, {}, REMINDERS);
    expect(await metric()).toBe(baseline + 2);
    a.stop();
    b.stop();
    await sleep(100);
    expect(await metric()).toBe(baseline);
    const ready = (await (await fetch(service.url.replace('/graphql', '/readyz'))).json()) as {
      ok: boolean;
      checks: { bus: { detail: { lag: unknown } } };
    };
    expect(ready.ok).toBe(true);
    expect(ready.checks.bus.detail.lag).toEqual({ 'sync-test-a': expect.any(Number) });
  });
});
