/**
 * Security 6 (Dapr routes): malformed CloudEvents POSTed to every Dapr subscription route of every
 * service (`/events/<topic>`, as discovered from `/dapr/subscribe`) and malformed job triggers to
 * `/job/<name>` (notifications). Each gets DROP (200, never RETRY for a malformed message, which
 * would make Dapr redeliver it forever), 404 for an unknown topic or 413 when oversized; the
 * service stays healthy and no domain row is written (dead letters are the only record). The fuzz
 * calls carry the app API token (they stand for a compromised or buggy sidecar); a call without it
 * gets 401 and reaches no handler.
 */
import { randomUUID } from 'node:crypto';
import { EventType, TASK_EVENT_TYPES } from '@taskgraph/events';
import {
  createTestDatabase,
  DaprBrokerDouble,
  type DaprSidecarDouble,
  startDaprSidecarDouble,
  type TestDatabase,
  taskSnapshot,
} from '@taskgraph/testing';
import fc from 'fast-check';
import { Cluster, SYSTEM_SUBGRAPHS } from './support/cluster.js';
import { Figures } from './support/figures.js';
import { hostileDate, hostileString } from './support/hostile.js';
import { domainRowCounts } from './support/invariants.js';

const figures = new Figures('security-fuzz-events');
const SEED = 424242;
const DOMAIN_TABLES = [
  'tasks.task',
  'audit.audit_entry',
  'notifications.tracked_task',
  'notifications.reminder',
  'notifications.notification',
  'bus.outbox',
  'bus.jobs',
  ...(SYSTEM_SUBGRAPHS.includes('sync') ? ['sync.task_update'] : []),
];
let db: TestDatabase;
let cluster: Cluster;
const broker = new DaprBrokerDouble();
const sidecars = new Map<string, DaprSidecarDouble>();
/** `APP_API_TOKEN` of every service; each sidecar sends it as daprd does. */
const APP_TOKEN = `app-token-${randomUUID()}`;
const base = (name: string) => cluster.member(name).url.replace(/\/graphql$/, '');

beforeAll(async () => {
  db = await createTestDatabase('fuzz_events');
  for (const name of SYSTEM_SUBGRAPHS) sidecars.set(name, await startDaprSidecarDouble({ appId: name, broker, appToken: APP_TOKEN }));
  cluster = await Cluster.start({
    databaseUrl: db.url,
    subgraphs: SYSTEM_SUBGRAPHS,
    config: (name) => ({ eventBus: 'dapr', dapr: sidecars.get(name)!.config }),
  });
  // Real data first, so "no write" is measured on a system that has some.
  const res = await cluster.graphql(
    'mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }',
    { i: { title: 'real', dueAt: new Date(Date.now() + 3_600_000).toISOString(), reminders: [{ offset: 'PT10M' }] } },
    'owner',
  );
  expect(res.errors).toBeUndefined();
}, 120_000);

afterAll(async () => {
  await cluster?.close();
  for (const sidecar of sidecars.values()) await sidecar.close().catch(() => {});
  broker.close();
  await db?.drop();
  figures.report();
});

/** A valid snapshot of the task the forged events are about (owner `owner`). */
const ownersTask = (id: string) => taskSnapshot({ id, userId: 'owner', title: 'x', priority: 'LOW' }, '2026-01-01T00:00:00Z');

/** CloudEvent-shaped bodies that are each wrong in some way (random and targeted). */
const malformedEvents: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue(),
  fc.record({
    specversion: fc.oneof(fc.constant('1.0'), fc.constantFrom('0.3', '2.0', ''), fc.integer()),
    id: fc.oneof(fc.uuid(), hostileString(40), fc.constant(null)),
    source: fc.oneof(fc.constant('taskgraph/tasks'), hostileString(20)),
    type: fc.oneof(
      fc.constantFrom(...TASK_EVENT_TYPES, EventType.ReminderDue, 'com.dapr.event.sent', 'taskgraph.task.exploded.v9'),
      hostileString(30),
    ),
    time: hostileDate,
    seq: fc.oneof(fc.nat().map(String), fc.constantFrom('-1', '1e9', 'x', '99999999999999999999999')),
    data: fc.oneof(
      fc.jsonValue(),
      fc.record({ eventId: fc.uuid(), taskId: hostileString(40), userId: hostileString(10), version: fc.integer() }),
    ),
  }),
  // Valid envelope and schema-valid task data whose id does not match the envelope's.
  fc.tuple(fc.uuid(), fc.uuid(), fc.uuid()).map(([eventId, otherId, taskId]) => ({
    specversion: '1.0',
    id: otherId,
    source: 'taskgraph/tasks',
    type: EventType.TaskCreated,
    time: '2026-01-01T00:00:00Z',
    seq: '1',
    data: { eventId, taskId, userId: 'owner', actor: 'owner', occurredAt: '2026-01-01T00:00:00Z', version: 1, task: ownersTask(taskId) },
  })),
  // Valid envelope and ids, snapshot broken in one field.
  fc.tuple(fc.uuid(), fc.uuid(), fc.constantFrom('status', 'version', 'id', 'reminders', 'createdAt')).map(([eventId, taskId, field]) => ({
    specversion: '1.0',
    id: eventId,
    source: 'taskgraph/tasks',
    type: EventType.TaskUpdated,
    time: '2026-01-01T00:00:00Z',
    seq: '2',
    data: {
      eventId,
      taskId,
      userId: 'owner',
      actor: 'owner',
      occurredAt: '2026-01-01T00:00:00Z',
      version: 2,
      task: { ...ownersTask(taskId), [field]: { nope: true } },
    },
  })),
);

interface Delivery {
  status: number;
  body: string;
}

async function deliver(
  url: string,
  body: string | Buffer,
  contentType = 'application/cloudevents+json',
  /** `null`: no `dapr-api-token` header. */
  token: string | null = APP_TOKEN,
): Promise<Delivery> {
  const headers: Record<string, string> = { 'content-type': contentType, ...(token === null ? {} : { 'dapr-api-token': token }) };
  const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.text() };
}

const healthy = async (name: string) => {
  const res = await fetch(new URL('/healthz', cluster.member(name).url), { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
  return res?.ok === true;
};

it('DROPs malformed CloudEvents on every subscription route of every service, writing nothing', async () => {
  const before = await domainRowCounts(db.url, DOMAIN_TABLES);
  const deadBefore = (await domainRowCounts(db.url, ['bus.dead_letters']))['bus.dead_letters']!;
  const wrong: string[] = [];
  let routes = 0;
  for (const name of SYSTEM_SUBGRAPHS) {
    const subscriptions = (await (await fetch(`${base(name)}/dapr/subscribe`, { headers: { 'dapr-api-token': APP_TOKEN } })).json()) as {
      topic: string;
      routes: { default: string };
    }[];
    for (const { topic, routes: r } of subscriptions) {
      routes++;
      const url = `${base(name)}${r.default}`;
      const bodies = [
        ...fc.sample(malformedEvents, { numRuns: 40, seed: SEED }).map((b) => JSON.stringify(b)),
        ...fc.sample(hostileString(500), { numRuns: 10, seed: SEED }),
        '',
        'null',
        '{"specversion":"1.0"',
      ];
      for (const body of bodies) {
        const res = await deliver(url, body);
        figures.add('attempts');
        if (res.status !== 200 || JSON.parse(res.body).status !== 'DROP')
          wrong.push(`${name} ${topic} ${body.slice(0, 120)} → ${res.status} ${res.body}`);
      }
      const big = await deliver(url, JSON.stringify({ specversion: '1.0', id: randomUUID(), data: 'x'.repeat(2_000_000) }));
      figures.add('attempts');
      if (big.status !== 413) wrong.push(`${name} ${topic} oversized → ${big.status}`);
      expect(await healthy(name)).toBe(true);
    }
    const unknown = await deliver(`${base(name)}/events/no-such-topic`, '{}');
    figures.add('attempts');
    if (unknown.status !== 404) wrong.push(`${name} unknown topic → ${unknown.status}`);
  }
  figures.set('routes', routes);
  expect(routes).toBeGreaterThanOrEqual(SYSTEM_SUBGRAPHS.length - 1);
  expect(wrong).toEqual([]);
  expect(await domainRowCounts(db.url, DOMAIN_TABLES)).toEqual(before);
  figures.set('deadLetters', (await domainRowCounts(db.url, ['bus.dead_letters']))['bus.dead_letters']! - deadBefore);
}, 120_000);

it('answers malformed or forged job triggers on /job/<name> without notifying anyone', async () => {
  const before = await domainRowCounts(db.url, DOMAIN_TABLES);
  const url = (name: string) => `${base('notifications')}/job/${encodeURIComponent(name)}`;
  const jobData = fc.record(
    {
      taskId: fc.oneof(fc.uuid(), hostileString(40)),
      userId: hostileString(20),
      n: fc.oneof(fc.integer({ min: -5, max: 20 }), hostileString(5)),
      fireAt: hostileDate,
      generation: fc.oneof(fc.integer(), fc.double()),
    },
    { requiredKeys: [] },
  );
  const wrong: string[] = [];
  const samples: [string, string][] = [
    ...fc
      .sample(fc.tuple(hostileString(60), fc.jsonValue()), { numRuns: 30, seed: SEED })
      .map(([n, b]): [string, string] => [n || 'x', JSON.stringify(b)]),
    ...fc
      .sample(jobData, { numRuns: 40, seed: SEED })
      .map((d): [string, string] => [`${String(d.taskId)}:${String(d.n)}`, JSON.stringify(d)]),
    ['x', '{not json'],
    ['x', '[]'],
  ];
  for (const [name, body] of samples) {
    const res = await deliver(url(name), body, 'application/json');
    figures.add('attempts');
    // 2xx = done (DROP / stale SUCCESS); 500 = RETRY (a well-formed job for a task notifications does not know yet).
    const status = res.status === 404 ? 'DROP' : (JSON.parse(res.body) as { status?: string }).status;
    if (![200, 404, 500].includes(res.status) || !['DROP', 'SUCCESS', 'RETRY'].includes(String(status))) {
      wrong.push(`${name.slice(0, 40)} ${body.slice(0, 100)} → ${res.status} ${res.body}`);
    }
  }
  expect(await healthy('notifications')).toBe(true);
  expect(wrong).toEqual([]);
  expect(await domainRowCounts(db.url, DOMAIN_TABLES)).toEqual(before);
}, 120_000);

// The Dapr routes require Dapr's app API token (`APP_API_TOKEN`, sent by daprd as `dapr-api-token`):
// a forged but valid `task.created` from anyone else who reaches the port gets 401 and changes nothing.
it('refuses a well-formed event or job trigger that does not come from the Dapr sidecar', async () => {
  const eventId = randomUUID();
  const taskId = randomUUID();
  const before = await domainRowCounts(db.url, DOMAIN_TABLES);
  const forged = JSON.stringify({
    specversion: '1.0',
    id: eventId,
    source: 'taskgraph/tasks',
    type: EventType.TaskCreated,
    time: '2026-01-01T00:00:00Z',
    seq: '7',
    data: {
      eventId,
      taskId,
      userId: 'victim',
      actor: 'victim',
      occurredAt: '2026-01-01T00:00:00Z',
      version: 1,
      task: { ...ownersTask(taskId), userId: 'victim' },
    },
  });
  const statuses: number[] = [];
  for (const token of [null, 'forged-token', `${APP_TOKEN}x`]) {
    for (const name of SYSTEM_SUBGRAPHS) {
      statuses.push((await fetch(`${base(name)}/dapr/subscribe`, { headers: token ? { 'dapr-api-token': token } : {} })).status);
    }
    statuses.push((await deliver(`${base('audit')}/events/task-events`, forged, 'application/cloudevents+json', token)).status);
    statuses.push(
      (await deliver(`${base('notifications')}/job/${taskId}:0`, JSON.stringify({ taskId, n: 0 }), 'application/json', token)).status,
    );
  }
  expect(new Set(statuses)).toEqual(new Set([401]));
  expect(await domainRowCounts(db.url, DOMAIN_TABLES)).toEqual(before);
});
