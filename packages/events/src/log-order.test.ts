import { randomUUID } from 'node:crypto';
import type { Database } from '@taskgraph/runtime';
import { createTestDatabase, type TestDatabase, waitFor } from '@taskgraph/test-kit';
import fc from 'fast-check';
import pg from 'pg';
import { BusTestbed, type Call, effectCount, openTestServiceDb, pause, Recorder, resetTables, taskEvent } from './fixtures/bus-harness.js';
import { appendToOutbox, ensureBusSchema } from './index.js';
import { executeSql } from './tx-sql.js';

/**
 * Lock-free log order (docs/ARCHITECTURE.md §3 "Log order"): producers append without taking
 * turns, rows commit out of `seq` order, and consumers still see every committed event once, in
 * `seq` order, with per-key order kept.
 */
let testDb: TestDatabase;
let db: Database;

beforeAll(async () => {
  testDb = await createTestDatabase('logorder');
  db = await openTestServiceDb(testDb.url);
  await ensureBusSchema(db.url);
  await executeSql(db.fork(), 'create table if not exists bus_test.key_version (key uuid primary key, version int not null)');
});

afterAll(async () => {
  await db?.close();
  await testDb?.drop();
});

let testbed: BusTestbed;
beforeEach(async () => {
  await resetTables(db);
  await executeSql(db.fork(), 'truncate bus_test.key_version');
  testbed = new BusTestbed('embedded', db, undefined);
});
afterEach(async () => {
  await testbed.closeAll();
});

/** Appends one event in a transaction left open until `commit()`/`abort()` (a slow producer). */
async function openAppend(taskId: string, version: number): Promise<{ id: string; commit(): Promise<void>; abort(): Promise<void> }> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const event = taskEvent(taskId, version);
  await client.query('begin');
  await client.query(`insert into bus.outbox (id, topic, key, type, data, occurred_at, source) values ($1, $2, $3, $4, $5, $6, $7)`, [
    event.id,
    event.topic,
    event.key,
    event.type,
    JSON.stringify(event.data),
    event.occurredAt,
    event.source,
  ]);
  await client.query(`select pg_notify('bus_outbox', '')`);
  const end = async (sql: string) => {
    await client.query(sql);
    await client.end();
  };
  return { id: event.id, commit: () => end('commit'), abort: () => end('rollback') };
}

describe('log order without an append lock (embedded)', () => {
  test('a row committed after a higher seq is delivered, and first: the consumer waits for it instead of skipping it', async () => {
    const recorder = new Recorder();
    await testbed.startConsumer({ subscriptions: [recorder.subscription('audit')] });
    const slow = await openAppend(randomUUID(), 1); // draws the lower seq, commits last
    const fast = await openAppend(randomUUID(), 1);
    await fast.commit();
    // The fast row is committed and visible, but a transaction that was running when it appeared
    // (the slow one, holding a lower seq) has not ended: nothing may be delivered yet.
    await pause(300);
    expect(recorder.calls).toEqual([]);
    await slow.commit();
    await waitFor('both delivered', () => recorder.calls.length === 2);
    expect(recorder.calls.map((c) => c.eventId)).toEqual([slow.id, fast.id]);
    expect(Number(recorder.calls[0]!.seq)).toBeLessThan(Number(recorder.calls[1]!.seq));
  });

  test('an aborted append holds the horizon only until it ends; nothing of it is delivered', async () => {
    const recorder = new Recorder();
    await testbed.startConsumer({ subscriptions: [recorder.subscription('audit')] });
    const aborted = await openAppend(randomUUID(), 1);
    const kept = await openAppend(randomUUID(), 1);
    await kept.commit();
    await pause(100);
    expect(recorder.calls).toEqual([]);
    await aborted.abort();
    await waitFor('kept delivered', () => recorder.calls.length === 1);
    expect(recorder.calls.map((c) => c.eventId)).toEqual([kept.id]);
  });

  test('producers do not take turns: two appends are in flight at the same time', async () => {
    const first = await openAppend(randomUUID(), 1);
    // With a global append lock the second append would block until the first commits.
    const second = await Promise.race([openAppend(randomUUID(), 1), pause(2_000).then(() => undefined)]);
    expect(second).toBeDefined();
    await second?.commit();
    await first.commit();
  });

  test('property: concurrent writers with delayed commits and aborts — every committed event once per group, seq order, per-key order', async () => {
    // One producer transaction: bumps each of its keys' version (row lock), appends the events, waits, commits or aborts.
    const txn = fc.record({
      keys: fc.uniqueArray(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 3 }),
      delayMs: fc.integer({ min: 0, max: 25 }),
      abort: fc.integer({ min: 0, max: 99 }).map((n) => n < 15),
    });
    const scenario = fc.array(fc.array(txn, { minLength: 1, maxLength: 8 }), { minLength: 6, maxLength: 12 });
    await fc.assert(
      fc.asyncProperty(scenario, async (writers) => {
        await testbed.closeAll();
        await resetTables(db);
        await executeSql(db.fork(), 'truncate bus_test.key_version');
        const keys = Array.from({ length: 6 }, () => randomUUID());
        for (const key of keys) await executeSql(db.fork(), 'insert into bus_test.key_version values (?, 0)', [key]);
        const recorder = new Recorder();
        // Two groups; `audit` runs as two competing replicas.
        await testbed.startConsumer({ subscriptions: [recorder.subscription('audit'), recorder.subscription('recurrence')] });
        await testbed.startConsumer({ subscriptions: [recorder.subscription('audit')] });
        const committed = new Map<string, { key: string; version: number }>();
        await Promise.all(
          writers.map(async (txns) => {
            for (const t of txns) {
              const appended: { id: string; key: string; version: number }[] = [];
              try {
                await db.fork().transactional(async (tx) => {
                  const events = [];
                  // Keys locked in one order across writers: no deadlock between them.
                  for (const k of [...t.keys].sort()) {
                    const key = keys[k]!;
                    const { rows } = await executeSql<{ version: number }>(
                      tx,
                      'update bus_test.key_version set version = version + 1 where key = ? returning version',
                      [key],
                    );
                    const version = rows[0]!.version;
                    const event = taskEvent(key, version);
                    events.push(event);
                    appended.push({ id: event.id, key, version });
                  }
                  await appendToOutbox(tx, events);
                  await pause(t.delayMs);
                  if (t.abort) throw new Error('abort');
                });
                for (const a of appended) committed.set(a.id, a);
              } catch (error) {
                if (!(error instanceof Error && error.message === 'abort')) throw error;
              }
            }
          }),
        );
        await waitFor('every committed event handled by both groups', async () => (await effectCount(db)) === 2 * committed.size, 20_000);
        await pause(50);
        for (const group of ['audit', 'recurrence']) {
          const calls = recorder.callsOf(group);
          // Exactly the committed events, each once (no skip, no duplicate, nothing aborted).
          expect(calls.map((c) => c.eventId).sort()).toEqual([...committed.keys()].sort());
          // Log (seq) order across the group, replicas included.
          const seqs = calls.map((c) => BigInt(c.seq));
          expect(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!)).toBe(true);
          // Per key: versions in the order they were written (1, 2, 3, … without gaps among committed ones).
          const byKey = new Map<string, number[]>();
          for (const c of calls as Call[]) byKey.set(c.taskId, [...(byKey.get(c.taskId) ?? []), c.version]);
          for (const [key, versions] of byKey) {
            const expected = [...committed.values()].filter((e) => e.key === key).map((e) => e.version);
            expect(versions).toEqual(expected.sort((a, b) => a - b));
          }
        }
        expect(recorder.duplicates).toEqual([]);
      }),
      { numRuns: 6, endOnFailure: true },
    );
  }, 180_000);
});
