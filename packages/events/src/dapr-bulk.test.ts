import { randomUUID } from 'node:crypto';
import type { Database } from '@taskgraph/runtime';
import { createTestDatabase, type DaprSidecarDouble, startDaprSidecarDouble, type TestDatabase, waitFor } from '@taskgraph/test-kit';
import { bulkRounds } from './dapr-bulk-publisher.js';
import { BusTestbed, effectCount, openTestServiceDb, produce, Recorder, resetTables, sqlRows, taskEvent } from './fixtures/bus-harness.js';
import { ensureBusSchema } from './index.js';
import type { OutboxRow } from './outbox-row.js';

/** The relay publishes with Dapr's bulk publish API (ARCHITECTURE §5), per-key order kept, with a per-message fallback. */
let testDb: TestDatabase;
let db: Database;
let sidecar: DaprSidecarDouble;
let testbed: BusTestbed;

beforeAll(async () => {
  testDb = await createTestDatabase('bulk');
  db = await openTestServiceDb(testDb.url);
  await ensureBusSchema(db.url);
});
afterAll(async () => {
  await db?.close();
  await testDb?.drop();
});
afterEach(async () => {
  await testbed?.closeAll();
  await sidecar?.close();
});

/** 10 tasks × 3 versions, appended version by version in one transaction: runs of 10 distinct keys. */
async function produceInterleaved(): Promise<{ tasks: string[]; total: number }> {
  const tasks = Array.from({ length: 10 }, () => randomUUID());
  const events = [1, 2, 3].flatMap((version) => tasks.map((t) => taskEvent(t, version)));
  await produce(db, events);
  return { tasks, total: events.length };
}

function versionsByTask(calls: { taskId: string; version: number }[]): Map<string, number[]> {
  const byTask = new Map<string, number[]>();
  for (const call of calls) byTask.set(call.taskId, [...(byTask.get(call.taskId) ?? []), call.version]);
  return byTask;
}

test('bulkRounds: consecutive rows, one topic, at most one event per key per request', () => {
  const row = (seq: number, key: string, topic = 'task-events') => ({ seq: String(seq), key, topic }) as OutboxRow;
  const rounds = bulkRounds([row(1, 'a'), row(2, 'b'), row(3, 'a'), row(4, 'c'), row(5, 'd', 'reminders'), row(6, 'e', 'reminders')], 100);
  expect(rounds.map((r) => r.map((x) => x.seq))).toEqual([
    ['1', '2'],
    ['3', '4'],
    ['5', '6'],
  ]);
  expect(bulkRounds([row(1, 'a'), row(2, 'b'), row(3, 'c')], 2).map((r) => r.length)).toEqual([2, 1]);
});

test('publishes runs of events in bulk requests as daprd takes them; every event delivered once, per-key order kept', async () => {
  await resetTables(db);
  sidecar = await startDaprSidecarDouble({ appId: 'consumer' });
  testbed = new BusTestbed('dapr', db, sidecar);
  const recorder = new Recorder();
  await testbed.startRelay();
  await testbed.startConsumer({ subscriptions: [recorder.subscription('audit')] });
  const { total } = await produceInterleaved();
  await waitFor('all handled', async () => (await effectCount(db, 'audit')) === total);
  await sidecar.idle();

  const bulks = sidecar.bulkPublishRequests();
  expect(bulks).toHaveLength(3);
  expect(sidecar.publishRequests()).toHaveLength(0);
  const seqs = (
    await sqlRows<{ seq: string; key: string }>(db, 'select seq::text as seq, key from bus.outbox order by bus.outbox.seq')
  ).map((r) => r);
  for (const [i, request] of bulks.entries()) {
    expect(request.path).toBe('/v1.0-alpha1/publish/bulk/pubsub/task-events');
    expect(request.headers['content-type']).toBe('application/json');
    const entries = request.body as {
      entryId: string;
      contentType: string;
      metadata: { partitionKey: string };
      event: { id: string; seq: string };
    }[];
    expect(entries.map((e) => e.entryId)).toEqual(seqs.slice(i * 10, i * 10 + 10).map((r) => r.seq));
    expect(entries.every((e) => e.contentType === 'application/cloudevents+json')).toBe(true);
    expect(entries.map((e) => e.metadata.partitionKey)).toEqual(seqs.slice(i * 10, i * 10 + 10).map((r) => r.key));
    expect(entries.map((e) => e.event.seq)).toEqual(entries.map((e) => e.entryId));
  }
  expect(recorder.duplicates).toEqual([]);
  for (const [, versions] of versionsByTask(recorder.callsOf('audit'))) expect(versions).toEqual([1, 2, 3]);
  expect(await sqlRows(db, 'select 1 from bus.outbox where published_at is null')).toEqual([]);
});

test('a partly failed bulk request: the failed entry is retried, the others are not published twice, per-key order kept', async () => {
  await resetTables(db);
  sidecar = await startDaprSidecarDouble({ appId: 'consumer' });
  testbed = new BusTestbed('dapr', db, sidecar);
  const recorder = new Recorder();
  await testbed.startConsumer({ subscriptions: [recorder.subscription('audit')] });
  const { total } = await produceInterleaved();
  const third = (await sqlRows<{ seq: string }>(db, 'select seq::text as seq from bus.outbox order by bus.outbox.seq limit 1 offset 2'))[0]!
    .seq;
  sidecar.failBulkEntries([third]);
  await testbed.startRelay();
  await waitFor('all handled', async () => (await effectCount(db, 'audit')) === total);
  await sidecar.idle();
  const published = sidecar.broker.messages('task-events').map((m) => m.eventId);
  expect(published).toHaveLength(total);
  expect(new Set(published).size).toBe(total);
  expect(recorder.duplicates).toEqual([]);
  for (const [, versions] of versionsByTask(recorder.callsOf('audit'))) expect(versions).toEqual([1, 2, 3]);
});

test('falls back to one publish per event when the sidecar has no bulk publish API (404)', async () => {
  await resetTables(db);
  sidecar = await startDaprSidecarDouble({ appId: 'consumer', bulkPublish: false });
  testbed = new BusTestbed('dapr', db, sidecar);
  const recorder = new Recorder();
  await testbed.startRelay();
  await testbed.startConsumer({ subscriptions: [recorder.subscription('audit')] });
  const { total } = await produceInterleaved();
  await waitFor('all handled', async () => (await effectCount(db, 'audit')) === total);
  await sidecar.idle();
  expect(sidecar.bulkPublishRequests().length).toBeGreaterThanOrEqual(1);
  expect(sidecar.publishRequests()).toHaveLength(total);
  expect(recorder.duplicates).toEqual([]);
  for (const [, versions] of versionsByTask(recorder.callsOf('audit'))) expect(versions).toEqual([1, 2, 3]);
});

test('one publish per event with failures: each key stops at its failed event and resumes there; per-key order kept, nothing published twice', async () => {
  await resetTables(db);
  sidecar = await startDaprSidecarDouble({ appId: 'consumer', bulkPublish: false });
  testbed = new BusTestbed('dapr', db, sidecar);
  const recorder = new Recorder();
  await testbed.startRelay({ backoff: { initialMs: 10, maxMs: 50 }, batchSize: 100 });
  await testbed.startConsumer({ subscriptions: [recorder.subscription('audit')] });
  // A first run shows the relay that the sidecar has no bulk API (it asks again only after a minute).
  await produceInterleaved();
  await waitFor('first run handled', async () => (await effectCount(db, 'audit')) === 30);
  // The first publishes of the next batch (one request per event, by key) fail: those keys wait, the others go on.
  sidecar.failPublishes(4);
  const { tasks } = await produceInterleaved();
  await waitFor('all handled', async () => (await effectCount(db, 'audit')) === 60);
  await sidecar.idle();
  const messages = sidecar.broker.messages('task-events').filter((m) => tasks.includes(String(m.partitionKey)));
  expect(messages).toHaveLength(30);
  expect(new Set(messages.map((m) => m.eventId)).size).toBe(30);
  expect(recorder.duplicates).toEqual([]);
  const calls = versionsByTask(recorder.callsOf('audit'));
  for (const task of tasks) expect(calls.get(task)).toEqual([1, 2, 3]);
  // Per key, the broker took the versions in log order.
  for (const task of tasks) {
    const seqs = messages.filter((m) => m.partitionKey === task).map((m) => Number(m.cloudEvent.seq));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  }
});
