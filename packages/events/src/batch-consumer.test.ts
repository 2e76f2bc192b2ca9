import { randomUUID } from 'node:crypto';
import type { Database, EntityManager } from '@taskgraph/runtime';
import { createTestDatabase, type TestDatabase, waitFor } from '@taskgraph/test-kit';
import {
  BusTestbed,
  EffectSchema,
  effectCount,
  effects,
  openTestServiceDb,
  produce,
  Recorder,
  resetTables,
  sqlRows,
  taskEvent,
} from './fixtures/bus-harness.js';
import { type DeliveredEvent, ensureBusSchema, onCommit, Topic } from './index.js';
import { executeSql } from './tx-sql.js';

/** Embedded consumer groups handle a batch of events per transaction, each event in its own savepoint. */
let testDb: TestDatabase;
let db: Database;
let testbed: BusTestbed;

beforeAll(async () => {
  testDb = await createTestDatabase('batch');
  db = await openTestServiceDb(testDb.url);
  await ensureBusSchema(db.url);
});
afterAll(async () => {
  await db?.close();
  await testDb?.drop();
});
beforeEach(async () => {
  await resetTables(db);
  testbed = new BusTestbed('embedded', db, undefined);
});
afterEach(async () => {
  await testbed.closeAll();
});

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

test('a burst is handled in few transactions: many events share one transaction id', async () => {
  const xids: string[] = [];
  await testbed.startConsumer({
    // No time budget here (a loaded box would cut batches short): the event count bounds them.
    overrides: { consumerBatchMs: 60_000 },
    subscriptions: [
      {
        group: 'audit',
        topic: Topic.TaskEvents,
        handler: async (event, tx) => {
          const { rows } = await executeSql<{ xid: string }>(tx, 'select pg_current_xact_id()::text as xid');
          xids.push(rows[0]!.xid);
          tx.create(EffectSchema, { group: 'audit', eventId: event.id, taskId: event.key, version: 1, seq: event.seq });
          return { status: 'SUCCESS' };
        },
      },
    ],
  });
  const taskId = randomUUID();
  await produce(
    db,
    range(200).map((v) => taskEvent(taskId, v)),
  );
  await waitFor('all handled', async () => (await effectCount(db, 'audit')) === 200);
  expect(xids).toHaveLength(200);
  // One transaction per event would give 200 ids; batches of up to 100 give 2 (a few more if a read came early).
  expect(new Set(xids).size).toBeLessThanOrEqual(6);
});

test('per-event isolation: a DROP and a RETRY inside a batch lose and repeat nothing of the others; effects run after commit, for committed events only', async () => {
  const recorder = new Recorder();
  const afterCommit: number[] = [];
  const inner = recorder.subscription('audit', (call, attempt) => {
    if (call.version === 3) return 'DROP';
    if (call.version === 6 && attempt === 1) return 'RETRY';
    if (call.version === 8 && attempt === 1) return 'THROW';
    return 'SUCCESS';
  });
  await testbed.startConsumer({
    subscriptions: [
      {
        ...inner,
        handler: async (event, tx) => {
          const version = (event.data as { version: number }).version;
          onCommit(tx, () => afterCommit.push(version));
          return inner.handler(event, tx);
        },
      },
    ],
  });
  const taskId = randomUUID();
  await produce(
    db,
    range(10).map((v) => taskEvent(taskId, v)),
  );
  await waitFor('9 effects', async () => (await effectCount(db, 'audit')) === 9);
  await waitFor('effects ran', () => afterCommit.length === 9);
  expect((await effects(db, 'audit')).map((e) => e.version)).toEqual([1, 2, 4, 5, 6, 7, 8, 9, 10]);
  // Each event's handler ran once, except the RETRY/THROW ones, which ran twice; nothing else was repeated.
  const calls = recorder.callsOf('audit').map((c) => c.version);
  expect(calls).toEqual([1, 2, 3, 4, 5, 6, 6, 7, 8, 8, 9, 10]);
  expect(recorder.duplicates).toEqual([]);
  // After-commit effects: in log order, never for the dropped event or a rolled-back attempt.
  expect(afterCommit).toEqual([1, 2, 4, 5, 6, 7, 8, 9, 10]);
  const dead = await sqlRows<{ event_id: string; reason: string }>(db, 'select event_id, reason from bus.dead_letters');
  expect(dead.map((d) => d.reason)).toEqual(['scripted DROP']);
});

test('an after-commit effect sees its transaction committed', async () => {
  const seen: number[] = [];
  const waiting: Promise<void>[] = [];
  await testbed.startConsumer({
    subscriptions: [
      {
        group: 'audit',
        topic: Topic.TaskEvents,
        handler: async (event, tx) => {
          tx.create(EffectSchema, { group: 'audit', eventId: event.id, taskId: event.key, version: 1, seq: event.seq });
          onCommit(tx, () => {
            waiting.push(
              sqlRows<{ n: string }>(db, 'select count(*) as n from bus_test.effect where event_id = ?', [event.id]).then((rows) => {
                seen.push(Number(rows[0]?.n));
              }),
            );
          });
          return { status: 'SUCCESS' };
        },
      },
    ],
  });
  await produce(
    db,
    range(30).map((v) => taskEvent(randomUUID(), v)),
  );
  await waitFor('effects', () => seen.length === 30);
  await Promise.all(waiting);
  expect(seen).toEqual(range(30).map(() => 1));
});

/** A batch handler taking every event of task `mine` (effects written in the batch's savepoint); `fail` makes a call throw after writing. */
function oddTaker(mine: () => string, batches: number[][], fail: () => boolean) {
  const version = (e: { data: unknown }) => (e.data as { version: number }).version;
  return async (events: readonly DeliveredEvent[], tx: EntityManager) => {
    const taken = events.filter((e) => e.key === mine());
    batches.push(taken.map(version));
    for (const e of taken) tx.create(EffectSchema, { group: 'audit', eventId: e.id, taskId: e.key, version: version(e), seq: e.seq });
    await tx.flush();
    if (fail()) throw new Error('batch handler failure');
    return new Set(taken.map((e) => e.id));
  };
}

test('a batch handler takes what it can in one go, the handler the rest; a retry before its events commits none of them early', async () => {
  const recorder = new Recorder();
  const batches: number[][] = [];
  const odd = randomUUID();
  const even = randomUUID();
  await testbed.startConsumer({
    overrides: { consumerBatchMs: 60_000 },
    subscriptions: [
      {
        ...recorder.subscription('audit', (call, attempt) => (call.version === 2 && attempt === 1 ? 'RETRY' : 'SUCCESS')),
        batchHandler: oddTaker(
          () => odd,
          batches,
          () => false,
        ),
      },
    ],
  });
  // Interleaved: odd v1, even v1, odd v2, even v2, …
  await produce(
    db,
    range(6).flatMap((v) => [taskEvent(odd, v), taskEvent(even, v)]),
  );
  await waitFor('12 effects', async () => (await effectCount(db, 'audit')) === 12);
  const rows = await effects(db, 'audit');
  for (const task of [odd, even]) expect(rows.filter((r) => r.taskId === task).map((r) => r.version)).toEqual(range(6));
  expect(recorder.duplicates).toEqual([]);
  // even v2 asked to be retried while odd v3–v6 (after it) were the batch handler's: nothing
  // committed, the rows before it ran alone (even v1's handler again, its first run rolled back),
  // then the rest with even v2 first.
  expect(batches).toEqual([range(6), [1, 2], [3, 4, 5, 6]]);
  expect(recorder.callsOf('audit').map((c) => c.version)).toEqual([1, 2, 1, 2, 3, 4, 5, 6]);
  expect(recorder.callsOf('audit').every((c) => c.taskId === even)).toBe(true);
});

test('a batch handler that fails is rolled back; every event then goes to the handler, once', async () => {
  const recorder = new Recorder();
  const batches: number[][] = [];
  const odd = randomUUID();
  const even = randomUUID();
  let failures = 1;
  await testbed.startConsumer({
    overrides: { consumerBatchMs: 60_000 },
    subscriptions: [
      {
        ...recorder.subscription('audit'),
        batchHandler: oddTaker(
          () => odd,
          batches,
          () => failures-- > 0,
        ),
      },
    ],
  });
  await produce(
    db,
    range(6).flatMap((v) => [taskEvent(odd, v), taskEvent(even, v)]),
  );
  await waitFor('12 effects', async () => (await effectCount(db, 'audit')) === 12);
  const rows = await effects(db, 'audit');
  for (const task of [odd, even]) expect(rows.filter((r) => r.taskId === task).map((r) => r.version)).toEqual(range(6));
  expect(recorder.duplicates).toEqual([]);
  expect(batches[0]).toEqual(range(6));
  const calls = recorder.callsOf('audit');
  expect(calls).toHaveLength(12 - batches.slice(1).flat().length);
  expect(new Set(calls.map((c) => c.eventId)).size).toBe(calls.length);
});
