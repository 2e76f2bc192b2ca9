import { randomUUID } from 'node:crypto';
import type { Database } from '@taskgraph/runtime';
import { createTestDatabase, type DaprSidecarDouble, startDaprSidecarDouble, type TestDatabase, waitFor } from '@taskgraph/test-kit';
import {
  BusTestbed,
  effectCount,
  effects,
  openTestServiceDb,
  produce,
  Recorder,
  resetTables,
  sqlRows,
  taskEvent,
} from './fixtures/bus-harness.js';
import { type DaprEventBus, EventType, ensureBusSchema, Topic } from './index.js';

let testDb: TestDatabase;
let db: Database;
let sidecar: DaprSidecarDouble;
let testbed: BusTestbed;

beforeAll(async () => {
  testDb = await createTestDatabase('dapr');
  db = await openTestServiceDb(testDb.url);
  await ensureBusSchema(db.url);
});

afterAll(async () => {
  await db?.close();
  await testDb?.drop();
});

beforeEach(async () => {
  await resetTables(db);
  sidecar = await startDaprSidecarDouble({ appId: 'consumer' });
  testbed = new BusTestbed('dapr', db, sidecar);
});

afterEach(async () => {
  await testbed.closeAll();
  await sidecar.close();
});

/** Publish calls of either kind: one event per request, or a bulk request (the relay's default for runs of events). */
const publishCalls = () => sidecar.publishRequests().length + sidecar.bulkPublishRequests().length;

const unpublished = async () => (await sqlRows(db, 'select 1 from bus.outbox where published_at is null')).length;

describe('dapr adapter on the wire (ARCHITECTURE §5)', () => {
  test('publishes our CloudEvent to /v1.0/publish/pubsub/<topic> with the task id as partition key', async () => {
    const recorder = new Recorder();
    await testbed.startRelay();
    await testbed.startConsumer({ subscriptions: [recorder.subscription('audit')] });
    const taskId = randomUUID();
    const events = [taskEvent(taskId, 1, EventType.TaskCreated), taskEvent(taskId, 2, EventType.TaskCompleted)];
    await produce(db, events);
    await waitFor('both handled', () => recorder.calls.length === 2);
    await sidecar.idle();

    const publishes = sidecar.publishRequests();
    expect(publishes).toHaveLength(2);
    const seqs = (await sqlRows<{ seq: string }>(db, 'select seq from bus.outbox order by seq')).map((r) => String(r.seq));
    publishes.forEach((request, i) => {
      const event = events[i]!;
      expect(request.method).toBe('POST');
      expect(request.path).toBe('/v1.0/publish/pubsub/task-events');
      expect(request.query).toEqual({ 'metadata.partitionKey': taskId });
      expect(request.headers['content-type']).toBe('application/cloudevents+json');
      expect(request.body).toEqual({
        specversion: '1.0',
        id: event.id,
        source: 'taskgraph/test',
        type: event.type,
        subject: taskId,
        time: new Date(event.occurredAt).toISOString(),
        datacontenttype: 'application/json',
        data: event.data,
        seq: seqs[i],
        partitionkey: taskId,
      });
    });
    // Delivered as application/cloudevents+json to the route the app declared.
    const deliveries = sidecar.deliveries.map((d) => [d.route, d.eventId, d.outcome]);
    expect(deliveries).toEqual([
      ['/events/task-events', events[0]!.id, 'SUCCESS'],
      ['/events/task-events', events[1]!.id, 'SUCCESS'],
    ]);
    expect(await unpublished()).toBe(0);
  });

  test('GET /dapr/subscribe lists each subscribed topic once, with its route and dead-letter topic', async () => {
    const recorder = new Recorder();
    const consumer = await testbed.startConsumer({
      subscriptions: [
        recorder.subscription('audit'),
        recorder.subscription('recurrence'),
        recorder.subscription('sync', undefined, { topic: Topic.TaskUpdates }),
      ],
    });
    const response = await fetch(`${consumer.http!.url}/dapr/subscribe`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual([
      {
        pubsubname: 'pubsub',
        topic: 'task-events',
        routes: { default: '/events/task-events' },
        deadLetterTopic: 'task-events-dlq',
        metadata: {},
      },
      {
        pubsubname: 'pubsub',
        topic: 'task-updates',
        routes: { default: '/events/task-updates' },
        deadLetterTopic: 'task-updates-dlq',
        metadata: {},
      },
    ]);
  });

  test('delivery replies: SUCCESS, DROP for malformed bodies, RETRY for handler errors, 404 for unknown topics', async () => {
    const recorder = new Recorder();
    const consumer = await testbed.startConsumer({
      subscriptions: [recorder.subscription('audit', () => 'THROW')],
    });
    const post = async (path: string, body: string) => {
      const response = await fetch(`${consumer.http!.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/cloudevents+json' },
        body,
      });
      return [response.status, await response.json()];
    };
    const event = taskEvent(randomUUID(), 1);
    const cloudEvent = { specversion: '1.0', id: event.id, source: 's', type: event.type, subject: event.key, data: event.data };
    expect(await post('/events/task-events', JSON.stringify(cloudEvent))).toEqual([200, { status: 'RETRY' }]);
    expect(await post('/events/task-events', '{not json')).toEqual([200, { status: 'DROP' }]);
    const malformedId = randomUUID();
    expect(await post('/events/task-events', JSON.stringify({ ...cloudEvent, id: malformedId }))).toEqual([200, { status: 'DROP' }]);
    expect(await post('/events/task-events', JSON.stringify({ ...cloudEvent, id: malformedId }))).toEqual([200, { status: 'DROP' }]);
    expect((await post('/events/reminders', JSON.stringify(cloudEvent)))[0]).toBe(404);
    // The RETRY left nothing behind; the malformed event with an id is dead-lettered once (marker + letter).
    expect(await sqlRows(db, 'select consumer_group, event_id from bus.processed_events')).toEqual([
      { consumer_group: 'audit', event_id: malformedId },
    ]);
    const dead = await sqlRows<{ event_id: string | null; reason: string }>(
      db,
      'select event_id, reason from bus.dead_letters order by id',
    );
    expect(dead).toEqual([
      { event_id: null, reason: 'body is not JSON' },
      { event_id: malformedId, reason: expect.stringMatching(/does not match data\.eventId/) },
    ]);
  });
});

describe('dapr adapter: relay and dedupe', () => {
  test('while Dapr fails or hangs, rows stay in the outbox; after recovery they drain in order', async () => {
    const recorder = new Recorder();
    await testbed.startRelay({ publishTimeoutMs: 150 });
    await testbed.startConsumer({ subscriptions: [recorder.subscription('audit')] });
    sidecar.setPublishMode('hang');
    const tasks = [randomUUID(), randomUUID()];
    await produce(db, [taskEvent(tasks[0]!, 1), taskEvent(tasks[1]!, 1)]);
    await waitFor('a hung publish timed out and was retried', () => publishCalls() >= 2);
    sidecar.setPublishMode('fail');
    await produce(db, [taskEvent(tasks[0]!, 2), taskEvent(tasks[1]!, 2), taskEvent(tasks[0]!, 3)]);
    const before = publishCalls();
    await waitFor('failing publishes retried', () => publishCalls() >= before + 3);
    expect(await unpublished()).toBe(5);
    expect(sidecar.broker.messages()).toEqual([]);
    expect(recorder.calls).toEqual([]);

    sidecar.setPublishMode('ok');
    sidecar.failPublishes(2);
    await waitFor('all handled', async () => (await effectCount(db, 'audit')) === 5);
    expect(await unpublished()).toBe(0);
    // Accepted by the broker in log order; every failed attempt was retried from the same row.
    const seqs = sidecar.broker.messages('task-events').map((m) => Number(m.cloudEvent.seq));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(5);
    const order = recorder.calls.map((c) => `${(tasks as string[]).indexOf(c.taskId)}:${c.version}`);
    expect(order.filter((o) => o.startsWith('0:'))).toEqual(['0:1', '0:2', '0:3']);
    expect(order.filter((o) => o.startsWith('1:'))).toEqual(['1:1', '1:2']);
  });

  test('a redelivered event is deduped: the handler runs once', async () => {
    const recorder = new Recorder();
    await testbed.startRelay();
    await testbed.startConsumer({ subscriptions: [recorder.subscription('audit'), recorder.subscription('recurrence')] });
    const event = taskEvent(randomUUID(), 1);
    await produce(db, [event]);
    await waitFor('handled', async () => (await effectCount(db)) === 2);
    await sidecar.idle();
    await sidecar.redeliver(event.id);
    await sidecar.redeliver(event.id);
    const deliveries = sidecar.deliveries.filter((d) => d.eventId === event.id);
    expect(deliveries.map((d) => d.outcome)).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS']);
    expect(recorder.calls.map((c) => c.group)).toEqual(['audit', 'recurrence']);
    expect(recorder.duplicates).toEqual([]);
    const markers = await sqlRows<{ consumer_group: string }>(db, 'select consumer_group from bus.processed_events order by 1');
    expect(markers.map((m) => m.consumer_group)).toEqual(['audit', 'recurrence']);
  });

  test('one group RETRYing does not re-run the group that already succeeded', async () => {
    const recorder = new Recorder();
    await testbed.startRelay();
    await testbed.startConsumer({
      subscriptions: [
        recorder.subscription('audit'),
        recorder.subscription('recurrence', (_call, attempt) => (attempt < 3 ? 'RETRY' : 'SUCCESS')),
      ],
    });
    await produce(db, [taskEvent(randomUUID(), 1)]);
    await waitFor('both effects', async () => (await effectCount(db)) === 2);
    expect(recorder.callsOf('audit')).toHaveLength(1);
    expect(recorder.callsOf('recurrence')).toHaveLength(3);
  });

  test('one relay is active across processes; a standby takes over when it stops', async () => {
    const recorder = new Recorder();
    const relays = [await testbed.startRelay(), await testbed.startRelay()];
    await testbed.startConsumer({ subscriptions: [recorder.subscription('audit')] });
    const taskId = randomUUID();
    await produce(
      db,
      Array.from({ length: 20 }, (_, i) => taskEvent(taskId, i + 1)),
    );
    await waitFor('first batch', async () => (await effectCount(db, 'audit')) === 20);
    const active = relays.filter((r) => (r!.bus as DaprEventBus).relayActive);
    expect(active).toHaveLength(1);
    // Only the active relay published: every event exactly once.
    expect(sidecar.publishRequests()).toHaveLength(20);

    await active[0]!.close();
    await produce(
      db,
      Array.from({ length: 10 }, (_, i) => taskEvent(taskId, i + 21)),
    );
    await waitFor('second batch', async () => (await effectCount(db, 'audit')) === 30);
    expect(relays.filter((r) => (r!.bus as DaprEventBus).relayActive)).toHaveLength(1);
    expect((await effects(db, 'audit')).map((e) => e.version)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });

  test('consumers with their own consumer id each get every event; members of one group share them', async () => {
    const recorder = new Recorder();
    await testbed.startRelay();
    // Two sync pods: consumerID per pod, dedupe group per pod.
    await testbed.startConsumer({ appId: 'sync', consumerId: 'sync-a', subscriptions: [recorder.subscription('sync-a')] });
    await testbed.startConsumer({ appId: 'sync', consumerId: 'sync-b', subscriptions: [recorder.subscription('sync-b')] });
    // Two audit replicas: one consumer group.
    await testbed.startConsumer({ appId: 'audit', subscriptions: [recorder.subscription('audit')] });
    await testbed.startConsumer({ appId: 'audit', subscriptions: [recorder.subscription('audit')] });
    const tasks = Array.from({ length: 6 }, () => randomUUID());
    await produce(
      db,
      tasks.map((t) => taskEvent(t, 1)),
    );
    await waitFor('all effects', async () => (await effectCount(db)) === 18);
    await sidecar.idle();
    expect(recorder.callsOf('sync-a')).toHaveLength(6);
    expect(recorder.callsOf('sync-b')).toHaveLength(6);
    expect(recorder.callsOf('audit')).toHaveLength(6);
    const auditApps = new Set(sidecar.deliveries.filter((d) => d.consumerId === 'audit').map((d) => d.appUrl));
    expect(auditApps.size).toBe(2);
  });
});
