import { randomUUID } from 'node:crypto';
import { createEventBus, type EventBus, sleep } from '@taskgraph/events';
import { createMetrics, type Database, testServiceConfig } from '@taskgraph/runtime';
import {
  callSubgraph,
  createTestDatabase,
  DaprBrokerDouble,
  type DaprSidecarDouble,
  startDaprSidecarDouble,
  type TestDatabase,
} from '@taskgraph/test-kit';
import type { Client } from 'graphql-ws';
import { createService, type SyncService, type SyncSettings } from './app.js';
import {
  append,
  Collector,
  connect,
  cursorFor,
  logger,
  openProducer,
  pg,
  reminderDueEvent,
  taskUpdateEvent,
  waitStored,
} from './fixtures/sync-harness.js';

const UPDATES = 'subscription($after: Cursor) { taskUpdates(after: $after) { cursor taskId version } }';

let testDb: TestDatabase;
let producer: Database;
let sql: pg.Client;
const clients: Client[] = [];
const services: SyncService[] = [];

async function client(service: SyncService, userId: string): Promise<Client> {
  const c = await connect(service.url, userId);
  clients.push(c);
  return c;
}

async function start(
  instanceId: string,
  overrides: Parameters<typeof testServiceConfig>[1] = {},
  settings: Partial<SyncSettings> = {},
): Promise<SyncService> {
  const service = await createService({
    ...testServiceConfig(testDb.url, overrides),
    sync: { instanceId, pruneIntervalMs: 3_600_000, ...settings },
  });
  services.push(service);
  return service;
}

async function latestCursor(service: SyncService, userId: string): Promise<string> {
  const res = await callSubgraph<{ syncRetention: { latestCursor: string } }>(service.url, userId, '{ syncRetention { latestCursor } }');
  return res.data!.syncRetention.latestCursor;
}

beforeAll(async () => {
  testDb = await createTestDatabase('sync_instances');
  producer = await openProducer(testDb.url);
  sql = new pg.Client({ connectionString: testDb.url });
  await sql.connect();
});

afterAll(async () => {
  for (const c of clients) await c.dispose();
  for (const s of services.reverse()) await s.close();
  await sql?.end();
  await producer?.close();
  await testDb?.drop();
});

describe('several sync instances, embedded bus (one consumer group per instance)', () => {
  let a: SyncService;
  let b: SyncService;

  beforeAll(async () => {
    a = await start('emb-a');
    b = await start('emb-b');
  });

  it('delivers every update to the subscribers of every instance', async () => {
    const u = `user-${randomUUID().slice(0, 8)}`;
    const latest = await latestCursor(a, u);
    const onA = new Collector(await client(a, u), UPDATES, { after: latest });
    const onB = new Collector(await client(b, u), UPDATES, { after: latest });
    const cursors: string[] = [];
    for (let i = 0; i < 20; i++) cursors.push(...(await append(producer, [taskUpdateEvent({ userId: u })])));
    await onA.count(20);
    await onB.count(20);
    expect(onA.items.map((x) => x.cursor)).toEqual(cursors.map((seq) => cursorFor(u, seq)));
    expect(onB.items.map((x) => x.cursor)).toEqual(cursors.map((seq) => cursorFor(u, seq)));
    const groups = await sql.query(
      `select consumer_group, topic from bus.consumer_offsets where consumer_group like 'sync-emb-%' order by 1, 2`,
    );
    expect(groups.rows).toEqual([
      { consumer_group: 'sync-emb-a', topic: 'reminders' },
      { consumer_group: 'sync-emb-a', topic: 'task-updates' },
      { consumer_group: 'sync-emb-b', topic: 'reminders' },
      { consumer_group: 'sync-emb-b', topic: 'task-updates' },
    ]);
  });

  it('starts a new instance at the window head, not at the start of the log (no replay of old reminders)', async () => {
    const u = `user-${randomUUID().slice(0, 8)}`;
    const [oldReminder] = await append(producer, [reminderDueEvent(u)]);
    const [stored] = await append(producer, [taskUpdateEvent({ userId: u })]);
    await waitStored(sql, stored!);
    const c = await start('emb-c');
    const offsets = await sql.query(`select topic, seq::text from bus.consumer_offsets where consumer_group = 'sync-emb-c' order by topic`);
    expect(BigInt(offsets.rows[0].seq)).toBeGreaterThanOrEqual(BigInt(oldReminder!)); // reminders: log head
    expect(BigInt(offsets.rows[1].seq)).toBeGreaterThanOrEqual(BigInt(stored!)); // task-updates: window head
    const reminders = new Collector(await client(c, u), 'subscription { notificationReceived { taskId } }');
    const updates = new Collector(await client(c, u), UPDATES);
    await sleep(80);
    const [fresh] = await append(producer, [taskUpdateEvent({ userId: u })]);
    await updates.count(1);
    await sleep(100);
    expect(updates.items.map((x) => x.cursor)).toEqual([cursorFor(u, fresh!)]);
    expect(reminders.items).toEqual([]);
  });

  it('fans one update out to many subscriptions of one process', async () => {
    const u = `user-${randomUUID().slice(0, 8)}`;
    const connections = 10;
    const perConnection = 50;
    const collectors: Collector[] = [];
    // The client flow for "nothing missed from now on": read latestCursor, then subscribe after it.
    const latest = await latestCursor(a, u);
    for (let i = 0; i < connections; i++) {
      const c = await client(a, u);
      for (let k = 0; k < perConnection; k++) collectors.push(new Collector(c, UPDATES, { after: latest }));
    }
    // Warm-up update: once every subscription has it, all of them are live (replays done).
    await append(producer, [taskUpdateEvent({ userId: u })]);
    await Promise.all(collectors.map((c) => c.count(1, 15_000)));
    const started = performance.now();
    await append(producer, [taskUpdateEvent({ userId: u })]);
    await Promise.all(collectors.map((c) => c.count(2)));
    const all = collectors.map((c) => c.receivedAt[1]! - started).sort((x, y) => x - y);
    console.info(
      `[sync] fan-out of one update to ${collectors.length} subscriptions (${connections} sockets, one process): first ${all[0]!.toFixed(1)} ms, p50 ${all[Math.floor(all.length / 2)]!.toFixed(1)} ms, last ${all.at(-1)!.toFixed(1)} ms`,
    );
    expect(collectors.every((c) => c.items.length === 2)).toBe(true);
    for (const c of collectors) c.stop();
  });
});

describe('several sync instances, Dapr pub/sub (one Kafka consumerID per pod)', () => {
  let broker: DaprBrokerDouble;
  let tasksSidecar: DaprSidecarDouble;
  const syncSidecars: DaprSidecarDouble[] = [];
  let relay: EventBus;
  let podA: SyncService;
  let podB: SyncService;

  beforeAll(async () => {
    broker = new DaprBrokerDouble();
    tasksSidecar = await startDaprSidecarDouble({ appId: 'tasks', broker });
    // The producer side as tasks runs it in dapr mode: the outbox relay publishes through its sidecar.
    relay = await createEventBus({
      mode: 'dapr',
      db: producer,
      logger,
      metrics: createMetrics('producer'),
      appId: 'tasks',
      relay: true,
      dapr: tasksSidecar.config,
    });
    await relay.start();
    for (const pod of ['sync-7f9c-a', 'sync-7f9c-b']) {
      const sidecar = await startDaprSidecarDouble({ appId: 'sync', broker });
      syncSidecars.push(sidecar);
      const service = await start(pod, { eventBus: 'dapr', dapr: sidecar.config }, { reorderHoldMs: 400, releasePollMs: 100 });
      // consumerID "{podName}" (dapr/components/pubsub-broadcast.yaml): each pod is its own consumer group.
      await sidecar.addApp(service.url.replace(/\/graphql$/, ''), { appId: 'sync', consumerId: pod });
      if (pod.endsWith('a')) podA = service;
      else podB = service;
    }
  });

  afterAll(async () => {
    await relay?.close();
    for (const s of syncSidecars) await s.close();
    await tasksSidecar?.close();
    broker?.close();
  });

  it('delivers every update to the subscribers of every pod, once each, across tasks', async () => {
    const u = `user-${randomUUID().slice(0, 8)}`;
    const latest = await latestCursor(podA, u);
    const onA = new Collector(await client(podA, u), UPDATES, { after: latest });
    const onB = new Collector(await client(podB, u), UPDATES, { after: latest });
    const cursors: string[] = [];
    const tasks = [randomUUID(), randomUUID(), randomUUID()];
    for (let i = 0; i < 15; i++)
      cursors.push(...(await append(producer, [taskUpdateEvent({ userId: u, taskId: tasks[i % 3], version: i + 1 })])));
    await onA.count(15, 10_000).catch((e) => {
      throw new Error(`${e.message}: got ${onA.items.map((x) => x.cursor)} want ${cursors} B ${onB.items.map((x) => x.cursor)}`);
    });
    await onB.count(15, 10_000).catch((e) => {
      throw new Error(`${e.message}: got ${onB.items.map((x) => x.cursor)} want ${cursors}`);
    });
    await tasksSidecar.idle();
    expect(onA.items.map((x) => x.cursor)).toEqual(cursors.map((seq) => cursorFor(u, seq)));
    expect(onB.items.map((x) => x.cursor)).toEqual(cursors.map((seq) => cursorFor(u, seq)));
    const consumers = new Set(
      broker.deliveries.filter((d) => d.topic === 'task-updates' && d.outcome === 'SUCCESS').map((d) => d.consumerId),
    );
    expect([...consumers].sort()).toEqual(['sync-7f9c-a', 'sync-7f9c-b']);
    const ready = (await (await fetch(podA.url.replace('/graphql', '/readyz'))).json()) as {
      ok: boolean;
      checks: { bus: { detail: { liveBacklog?: number } } };
    };
    expect(ready.ok).toBe(true);
    expect(ready.checks.bus.detail.liveBacklog).toBe(0);

    // Latency through relay → sidecar double → pod → ordered release → client, one update at a time.
    const samples: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      await append(producer, [taskUpdateEvent({ userId: u, taskId: tasks[i % 3] })]);
      await onA.count(16 + i, 10_000);
      samples.push(onA.receivedAt[15 + i]! - t0);
    }
    samples.sort((x, y) => x - y);
    console.info(
      `[sync] append→subscriber latency (dapr double, 10 events): p50 ${samples[5]!.toFixed(1)} ms, max ${samples[9]!.toFixed(1)} ms`,
    );
    await onB.count(25, 10_000);

    // A redelivery (at-least-once) reaches nobody twice.
    const eventId = broker.messages('task-updates').at(-1)!.eventId;
    await broker.redeliver(eventId);
    await sleep(100);
    expect(onA.items).toHaveLength(25);
    expect(onB.items).toHaveLength(25);
  });

  it('publishes in log order when one task’s delivery is delayed (Kafka orders per partition only)', async () => {
    const u = `user-${randomUUID().slice(0, 8)}`;
    const onA = new Collector(await client(podA, u), UPDATES, { after: await latestCursor(podA, u) });
    // Hold back the first of the next three updates: an uncommitted row with its cursor makes every
    // pod's insert of it wait, while the two later ones (other tasks, other partitions) go through.
    const { rows } = await sql.query('select last_value::text as v, is_called from bus.outbox_seq_seq');
    const next = BigInt(rows[0].v) + (rows[0].is_called ? 1n : 0n);
    const blocker = new pg.Client({ connectionString: testDb.url });
    await blocker.connect();
    await blocker.query('begin');
    await blocker.query(
      `insert into sync.task_update (cursor, event_id, user_id, task_id, op, version, occurred_at) values ($1, $2, 'blocker', $3, 'UPDATED', 1, now())`,
      [next.toString(), randomUUID(), randomUUID()],
    );
    const cursors = await append(
      producer,
      [randomUUID(), randomUUID(), randomUUID()].map((taskId) => taskUpdateEvent({ userId: u, taskId })),
    );
    expect(cursors[0]).toBe(next.toString());
    await waitStored(sql, cursors[2]!);
    await sleep(150);
    expect(onA.items).toEqual([]); // the later ones wait for the first, in order
    await blocker.query('rollback');
    await blocker.end();
    await onA.count(3);
    await sleep(100);
    expect(onA.items.map((x) => x.cursor)).toEqual(cursors.map((seq) => cursorFor(u, seq)));
  });

  it('does not stall live updates behind an update no pod can store (dead-lettered)', async () => {
    const u = `user-${randomUUID().slice(0, 8)}`;
    const onA = new Collector(await client(podA, u), UPDATES, { after: await latestCursor(podA, u) });
    // A task-updates record that fails validation: every pod DROPs it to the dead-letter topic.
    const bad = taskUpdateEvent({ userId: u });
    (bad.data as { version: number }).version = -1;
    const [badSeq] = await append(producer, [bad]);
    const [good] = await append(producer, [taskUpdateEvent({ userId: u })]);
    const started = Date.now();
    await onA.count(1, 5_000);
    expect(onA.items.map((x) => x.cursor)).toEqual([cursorFor(u, good!)]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200); // held (in order) until the hold expired
    expect(broker.deadLetters.some((d) => d.message.cloudEvent.seq === badSeq || d.eventId === bad.id)).toBe(true);
  });
});
