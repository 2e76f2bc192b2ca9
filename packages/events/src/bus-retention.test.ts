import { randomUUID } from 'node:crypto';
import type { Database } from '@taskgraph/runtime';
import { createTestDatabase, type DaprSidecarDouble, startDaprSidecarDouble, type TestDatabase, waitFor } from '@taskgraph/test-kit';
import pg from 'pg';
import { pruneBus } from './bus-retention.js';
import {
  BusTestbed,
  effectCount,
  logger,
  openTestServiceDb,
  produce,
  Recorder,
  resetTables,
  sqlRows,
  taskEvent,
} from './fixtures/bus-harness.js';
import { ensureBusSchema } from './index.js';
import { executeSql } from './tx-sql.js';

/** Bounded storage: `bus.outbox`, `bus.processed_events` and `bus.dead_letters` keep a retention window. */
let testDb: TestDatabase;
let db: Database;
let testbed: BusTestbed;
let sidecar: DaprSidecarDouble | undefined;

beforeAll(async () => {
  testDb = await createTestDatabase('retention');
  db = await openTestServiceDb(testDb.url);
  await ensureBusSchema(db.url);
});
afterAll(async () => {
  await db?.close();
  await testDb?.drop();
});
beforeEach(async () => {
  await resetTables(db);
  sidecar = undefined;
});
afterEach(async () => {
  await testbed?.closeAll();
  await sidecar?.close();
});

const HOUR = 3_600_000;
const count = async (table: string) => Number((await sqlRows<{ n: string }>(db, `select count(*) as n from ${table}`))[0]?.n);
/** Makes rows look `hours` old (occurred_at / processed_at / created_at). */
const age = (sql: string, params: unknown[] = []) => executeSql(db.fork(), sql, params);

test('embedded: prunes what every live group consumed and is past the retention; keeps (and reports) what a group still has to consume', async () => {
  testbed = new BusTestbed('embedded', db, undefined);
  const recorder = new Recorder();
  // `audit` consumes everything; `slow` stops after 5 events (its handler keeps asking to retry the 6th).
  await testbed.startConsumer({ subscriptions: [recorder.subscription('audit')] });
  await testbed.startConsumer({
    subscriptions: [recorder.subscription('slow', (_call, _attempt) => (recorder.callsOf('slow').length > 5 ? 'RETRY' : 'SUCCESS'))],
  });
  const taskId = randomUUID();
  await produce(
    db,
    Array.from({ length: 10 }, (_, i) => taskEvent(taskId, i + 1)),
  );
  await waitFor('audit consumed all', async () => (await effectCount(db, 'audit')) === 10);
  await waitFor('slow consumed 5', async () => (await effectCount(db, 'slow')) === 5);
  await age(`update bus.outbox set occurred_at = now() - interval '8 days'`);
  // A group of a process gone for longer than the retention (e.g. an earlier sync instance) holds nothing back.
  await age(
    `insert into bus.consumer_offsets (consumer_group, topic, seq, updated_at) values ('sync-gone', 'task-events', 0, now() - interval '8 days')`,
  );

  const report = await pruneBus({ db, logger, mode: 'embedded', retentionMs: 7 * 24 * HOUR, batchSize: 2, pauseMs: 0 });
  expect(report).toMatchObject({ outbox: 5, abandonedGroups: 1, heldBack: { 'task-events': 5 } });
  const left = await sqlRows<{ seq: string }>(db, 'select seq::text as seq from bus.outbox order by seq');
  const slowOffset = (
    await sqlRows<{ seq: string }>(db, "select seq::text as seq from bus.consumer_offsets where consumer_group = 'slow'")
  )[0]!.seq;
  expect(left.map((r) => r.seq).every((seq) => BigInt(seq) > BigInt(slowOffset))).toBe(true);
  expect(left).toHaveLength(5);
  expect(await sqlRows(db, "select 1 from bus.consumer_offsets where consumer_group = 'sync-gone'")).toEqual([]);
});

test('embedded: young events stay even when consumed; pruning runs while producers append and consumers read', async () => {
  testbed = new BusTestbed('embedded', db, undefined);
  const recorder = new Recorder();
  await testbed.startConsumer({ subscriptions: [recorder.subscription('audit')] });
  const taskId = randomUUID();
  await produce(
    db,
    Array.from({ length: 300 }, (_, i) => taskEvent(taskId, i + 1)),
  );
  await waitFor('consumed', async () => (await effectCount(db, 'audit')) === 300, 60_000);
  await age(`update bus.outbox set occurred_at = now() - interval '8 days' where seq <= (select min(seq) + 199 from bus.outbox)`);
  // A transaction holding an outbox row lock-free append open while pruning runs: pruning neither waits for it nor blocks it.
  const producer = new pg.Client({ connectionString: db.url });
  await producer.connect();
  await producer.query('begin');
  const late = taskEvent(taskId, 301);
  await producer.query('insert into bus.outbox (id, topic, key, type, data, occurred_at, source) values ($1, $2, $3, $4, $5, $6, $7)', [
    late.id,
    late.topic,
    late.key,
    late.type,
    JSON.stringify(late.data),
    late.occurredAt,
    late.source,
  ]);
  const report = await pruneBus({ db, logger, mode: 'embedded', retentionMs: 7 * 24 * HOUR, batchSize: 50, pauseMs: 0 });
  await producer.query('commit');
  await producer.end();
  expect(report?.outbox).toBe(200);
  expect(await count('bus.outbox')).toBe(101);
  await waitFor('late event consumed', async () => (await effectCount(db, 'audit')) === 301, 30_000);
});

test('dapr: published events past the retention go, unpublished ones stay; processed markers and dead letters keep their window and dedupe inside it', async () => {
  sidecar = await startDaprSidecarDouble({ appId: 'consumer' });
  testbed = new BusTestbed('dapr', db, sidecar);
  const recorder = new Recorder();
  const relay = await testbed.startRelay();
  await testbed.startConsumer({ subscriptions: [recorder.subscription('audit', (call) => (call.version === 2 ? 'DROP' : 'SUCCESS'))] });
  const taskId = randomUUID();
  await produce(db, [taskEvent(taskId, 1), taskEvent(taskId, 2), taskEvent(taskId, 3)]);
  await waitFor('handled', async () => (await effectCount(db, 'audit')) === 2 && (await count('bus.dead_letters')) === 1);
  await sidecar.idle();
  await relay!.close(); // from here on, a new row stays unpublished
  // Event 1 and its marker, and the dead letter, are old; event 3's marker is young. One unpublished old row stays.
  const [first, , third] = (await sqlRows<{ id: string }>(db, 'select id from bus.outbox order by seq')).map((r) => r.id);
  await age(`update bus.outbox set occurred_at = now() - interval '8 days'`);
  await age(`update bus.processed_events set processed_at = now() - interval '8 days' where event_id <> ?`, [third]);
  await age(`update bus.dead_letters set created_at = now() - interval '8 days'`);
  await age(
    `insert into bus.outbox (id, topic, key, type, data, occurred_at) values (?, 'task-events', ?, 'x', '{}', now() - interval '8 days')`,
    [randomUUID(), taskId],
  );
  const report = await pruneBus({ db, logger, mode: 'dapr', retentionMs: 7 * 24 * HOUR, pauseMs: 0 });
  expect(report).toMatchObject({ outbox: 3, processedEvents: 2, deadLetters: 1 });
  expect(await sqlRows(db, 'select 1 from bus.outbox where published_at is null')).toHaveLength(1);
  expect((await sqlRows<{ event_id: string }>(db, 'select event_id from bus.processed_events')).map((r) => r.event_id)).toEqual([third]);

  // Inside the window a redelivery is still deduplicated (the handler is not called again).
  const before = recorder.callsOf('audit').length;
  await sidecar.redeliver(third!);
  expect(recorder.callsOf('audit').length).toBe(before);
  expect(first).not.toBe(third);
});

test('only one pruner runs at a time', async () => {
  testbed = new BusTestbed('embedded', db, undefined);
  const holder = new pg.Client({ connectionString: db.url });
  await holder.connect();
  await holder.query('begin');
  await holder.query('select pg_advisory_xact_lock(7301003)');
  expect(await pruneBus({ db, logger, mode: 'embedded', retentionMs: HOUR })).toBeUndefined();
  await holder.query('rollback');
  await holder.end();
  expect(await pruneBus({ db, logger, mode: 'embedded', retentionMs: HOUR })).toBeDefined();
});

test('embedded: a group stopped for longer than the retention but not past the group expiry keeps its events', async () => {
  const taskId = randomUUID();
  await produce(
    db,
    Array.from({ length: 6 }, (_, i) => taskEvent(taskId, i + 1)),
  );
  const third = (await sqlRows<{ seq: string }>(db, 'select seq::text as seq from bus.outbox order by seq offset 2 limit 1'))[0]!.seq;
  // `audit` consumed 3 of 6, then its process stopped an hour ago (nobody touched its offset since);
  // every event is a day old, past a 1-minute retention.
  await age(
    `insert into bus.consumer_offsets (consumer_group, topic, seq, updated_at) values ('audit', 'task-events', ?, now() - interval '1 hour')`,
    [third],
  );
  await age(`update bus.outbox set occurred_at = now() - interval '1 day'`);

  const kept = await pruneBus({ db, logger, mode: 'embedded', retentionMs: 60_000, groupExpiryMs: 2 * HOUR, pauseMs: 0 });
  expect(kept).toMatchObject({ outbox: 3, abandonedGroups: 0, heldBack: { 'task-events': 3 } });
  expect(await count('bus.outbox')).toBe(3);
  expect(await sqlRows(db, "select 1 from bus.consumer_offsets where consumer_group = 'audit'")).toHaveLength(1);

  // Past the expiry the group is gone, and with it what it held back.
  const gone = await pruneBus({ db, logger, mode: 'embedded', retentionMs: 60_000, groupExpiryMs: HOUR / 2, pauseMs: 0 });
  expect(gone).toMatchObject({ outbox: 3, abandonedGroups: 1 });
  expect(await count('bus.outbox')).toBe(0);
});
