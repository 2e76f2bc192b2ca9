import { randomUUID } from 'node:crypto';
import type { Database } from '@taskgraph/runtime';
import { createTestDatabase, type DaprSidecarDouble, startDaprSidecarDouble, type TestDatabase, waitFor } from '@taskgraph/test-kit';
import {
  BusTestbed,
  effectCount,
  effects,
  type Mode,
  openTestServiceDb,
  pause,
  produce,
  produceRaw,
  Recorder,
  resetTables,
  sqlRows,
  taskEvent,
} from './fixtures/bus-harness.js';
import { EventType, ensureBusSchema } from './index.js';

let testDb: TestDatabase;
let db: Database;

beforeAll(async () => {
  testDb = await createTestDatabase('events');
  db = await openTestServiceDb(testDb.url);
  await ensureBusSchema(db.url);
});

afterAll(async () => {
  await db?.close();
  await testDb?.drop();
});

/** Versions per task in call order. */
function versionsByTask(calls: { taskId: string; version: number }[]): Map<string, number[]> {
  const byTask = new Map<string, number[]>();
  for (const call of calls) byTask.set(call.taskId, [...(byTask.get(call.taskId) ?? []), call.version]);
  return byTask;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe.each<Mode>(['embedded', 'dapr'])('event bus (%s)', (mode) => {
  let sidecar: DaprSidecarDouble | undefined;
  let testbed: BusTestbed;

  beforeEach(async () => {
    await resetTables(db);
    sidecar = mode === 'dapr' ? await startDaprSidecarDouble({ appId: 'consumer' }) : undefined;
    testbed = new BusTestbed(mode, db, sidecar);
  });

  afterEach(async () => {
    await testbed.closeAll();
    await sidecar?.close();
  });

  test('delivers every event exactly once to each group, in order per key', async () => {
    const recorder = new Recorder();
    await testbed.startRelay();
    await testbed.startConsumer({ subscriptions: [recorder.subscription('audit'), recorder.subscription('recurrence')] });
    const tasks = range(5).map(() => randomUUID());
    const versions = 20;
    // One producer per task (its versions in order), producers running concurrently, 1–3 events per transaction.
    await Promise.all(
      tasks.map(async (taskId) => {
        let version = 1;
        while (version <= versions) {
          const size = Math.min(1 + (version % 3), versions - version + 1);
          await produce(
            db,
            range(size).map((i) => taskEvent(taskId, version + i - 1)),
          );
          version += size;
        }
      }),
    );
    const total = tasks.length * versions;
    await waitFor('all effects', async () => (await effectCount(db)) === 2 * total);

    for (const group of ['audit', 'recurrence']) {
      const calls = recorder.callsOf(group);
      expect(calls).toHaveLength(total);
      expect(new Set(calls.map((c) => c.eventId)).size).toBe(total);
      for (const [, seen] of versionsByTask(calls)) expect(seen).toEqual(range(versions));
      expect(await effects(db, group)).toHaveLength(total);
    }
    expect(recorder.duplicates).toEqual([]);
  });

  test('events of types the consumer does not want advance it without a handler call', async () => {
    const recorder = new Recorder();
    await testbed.startRelay();
    const consumer = await testbed.startConsumer({
      subscriptions: [recorder.subscription('created-only', undefined, { types: [EventType.TaskCreated] })],
    });
    const taskId = randomUUID();
    await produce(db, [
      taskEvent(taskId, 1, EventType.TaskCreated),
      taskEvent(taskId, 2, EventType.TaskUpdated),
      taskEvent(taskId, 3, EventType.TaskCompleted),
    ]);
    const later = randomUUID();
    await produce(db, [taskEvent(later, 1, EventType.TaskCreated)]);
    await waitFor('created events', () => recorder.calls.length === 2);
    expect(recorder.calls.map((c) => [c.taskId, c.version])).toEqual([
      [taskId, 1],
      [later, 1],
    ]);
    if (mode === 'embedded') {
      await waitFor('lag 0', async () => (await consumer.bus.lag())['created-only'] === 0);
    }
  });

  test('a DROPped event goes to the dead letters with its reason; its writes roll back; the consumer continues', async () => {
    const recorder = new Recorder();
    await testbed.startRelay();
    await testbed.startConsumer({
      subscriptions: [recorder.subscription('audit', (call) => (call.version === 2 ? 'DROP' : 'SUCCESS'))],
    });
    const taskId = randomUUID();
    const events = range(3).map((v) => taskEvent(taskId, v));
    await produce(db, events);
    await waitFor('v3 handled', async () => (await effects(db, 'audit')).some((e) => e.version === 3));
    expect((await effects(db, 'audit')).map((e) => e.version)).toEqual([1, 3]);
    const dead = await sqlRows<{ event_id: string; reason: string; consumer_group: string; topic: string }>(
      db,
      'select consumer_group, topic, event_id, reason from bus.dead_letters',
    );
    expect(dead).toEqual([{ consumer_group: 'audit', topic: 'task-events', event_id: events[1]!.id, reason: 'scripted DROP' }]);
    if (sidecar) {
      await sidecar.idle();
      expect(sidecar.deadLetters.map((d) => [d.eventId, d.deadLetterTopic])).toEqual([[events[1]!.id, 'task-events-dlq']]);
      expect(sidecar.broker.messages('task-events-dlq').map((m) => m.eventId)).toEqual([events[1]!.id]);
    }
  });

  test('malformed and unknown events are dead-lettered with a reason; the consumer keeps going', async () => {
    const recorder = new Recorder();
    await testbed.startRelay();
    await testbed.startConsumer({ subscriptions: [recorder.subscription('audit')] });
    const taskId = randomUUID();
    const broken = { id: randomUUID(), key: taskId, type: EventType.TaskUpdated, data: { eventId: 'nope', taskId } };
    const unknown = { id: randomUUID(), key: taskId, type: 'taskgraph.task.exploded.v1', data: {} };
    await produceRaw(db, [broken, unknown]);
    const good = taskEvent(taskId, 1);
    await produce(db, [good]);
    await waitFor('good event handled', () => recorder.calls.length === 1);
    expect(recorder.calls[0]?.eventId).toBe(good.id);
    await waitFor('dead letters', async () => (await sqlRows(db, 'select 1 from bus.dead_letters')).length === 2);
    const dead = await sqlRows<{ event_id: string; reason: string }>(db, 'select event_id, reason from bus.dead_letters order by id');
    expect(dead.map((d) => d.event_id)).toEqual([broken.id, unknown.id]);
    expect(dead[0]?.reason).toMatch(/invalid taskgraph\.task\.updated\.v1 data/);
    expect(dead[1]?.reason).toMatch(/unknown event type taskgraph\.task\.exploded\.v1/);
    if (sidecar) {
      await sidecar.idle();
      expect(sidecar.deadLetters.map((d) => d.eventId)).toEqual([broken.id, unknown.id]);
    }
  });

  test('RETRY and thrown errors are retried in place, then succeed, keeping order', async () => {
    const recorder = new Recorder();
    await testbed.startRelay();
    const verdicts = ['RETRY', 'THROW', 'SUCCESS'] as const;
    await testbed.startConsumer({
      subscriptions: [recorder.subscription('audit', (call, attempt) => (call.version === 2 ? verdicts[attempt - 1]! : 'SUCCESS'))],
    });
    const taskId = randomUUID();
    await produce(
      db,
      range(4).map((v) => taskEvent(taskId, v)),
    );
    await waitFor('all handled', async () => (await effectCount(db, 'audit')) === 4);
    expect(recorder.calls.map((c) => c.version)).toEqual([1, 2, 2, 2, 3, 4]);
    expect((await effects(db, 'audit')).map((e) => e.version)).toEqual([1, 2, 3, 4]);
    expect(await sqlRows(db, 'select 1 from bus.dead_letters')).toEqual([]);
  });

  test('a consumer closed mid-stream and recreated resumes without loss or duplicate effect', async () => {
    const recorder = new Recorder();
    await testbed.startRelay();
    const slow = async () => {
      await pause(2);
      return 'SUCCESS' as const;
    };
    const first = await testbed.startConsumer({ subscriptions: [recorder.subscription('audit', slow)] });
    const tasks = range(4).map(() => randomUUID());
    const versions = 30;
    for (const version of range(versions)) {
      await produce(
        db,
        tasks.map((t) => taskEvent(t, version)),
      );
    }
    const total = tasks.length * versions;
    await waitFor('some effects', async () => (await effectCount(db, 'audit')) >= 25);
    await first.close();
    const afterClose = await effectCount(db, 'audit');
    expect(afterClose).toBeLessThan(total);
    await testbed.startConsumer({ subscriptions: [recorder.subscription('audit', slow)], port: first.http?.port });
    await waitFor('all effects', async () => (await effectCount(db, 'audit')) === total);
    if (sidecar) await sidecar.idle();
    expect(recorder.duplicates).toEqual([]);
    expect(new Set(recorder.calls.map((c) => c.eventId)).size).toBe(total);
    // Every event had its effect once; per task, effects follow the log order.
    const rows = await effects(db, 'audit');
    for (const [, seen] of versionsByTask(rows)) expect(seen).toEqual(range(versions));
  });

  test('two replicas of one group share the work: each event has its effect once, in order, even across retries', async () => {
    const recorder = new Recorder();
    const tasks = range(8).map(() => randomUUID());
    // The first attempt of every third event fails: a replica retrying must not let the other skip ahead.
    const flaky = (call: { version: number; taskId: string }, attempt: number) =>
      (call.version + (tasks as string[]).indexOf(call.taskId)) % 3 === 0 && attempt === 1 ? ('RETRY' as const) : ('SUCCESS' as const);
    await testbed.startRelay();
    await testbed.startConsumer({ appId: 'audit', subscriptions: [recorder.subscription('audit', flaky)] });
    await testbed.startConsumer({ appId: 'audit', subscriptions: [recorder.subscription('audit', flaky)] });
    for (const version of range(5)) {
      await produce(
        db,
        tasks.map((t) => taskEvent(t, version)),
      );
    }
    await waitFor('all effects', async () => (await effectCount(db, 'audit')) === 40);
    if (sidecar) await sidecar.idle();
    await pause(50);
    expect(recorder.duplicates).toEqual([]);
    const succeeded = recorder.calls.filter(
      (c, i) => flaky(c, recorder.calls.slice(0, i + 1).filter((x) => x.eventId === c.eventId).length) === 'SUCCESS',
    );
    expect(succeeded).toHaveLength(40);
    for (const [, seen] of versionsByTask(succeeded)) expect(seen).toEqual(range(5));
    const rows = await effects(db, 'audit');
    for (const [, seen] of versionsByTask(rows)) expect(seen).toEqual(range(5));
  });

  test('keeps consuming after its listener (and relay) connections are killed', async () => {
    const recorder = new Recorder();
    await testbed.startRelay();
    await testbed.startConsumer({ subscriptions: [recorder.subscription('audit')] });
    const taskId = randomUUID();
    await produce(db, [taskEvent(taskId, 1)]);
    await waitFor('first event', () => recorder.calls.length === 1);
    const killed = await sqlRows<{ killed: boolean }>(
      db,
      `select pg_terminate_backend(pid) as killed from pg_stat_activity
        where datname = current_database() and application_name in ('taskgraph-bus-listener', 'taskgraph-outbox-relay')`,
    );
    expect(killed.length).toBeGreaterThanOrEqual(1);
    await pause(50);
    await produce(db, [taskEvent(taskId, 2)]);
    // Well before the 5 s safety re-check: the reconnect itself re-reads the log.
    await waitFor('second event', () => recorder.calls.length === 2, 3_000);
    expect(recorder.calls.map((c) => c.version)).toEqual([1, 2]);
  });
});
