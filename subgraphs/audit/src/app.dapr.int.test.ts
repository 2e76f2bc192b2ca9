/**
 * Audit in Dapr mode: the outbox relay publishes through the Dapr sidecar double, which discovers
 * audit's subscription and delivers `task-events` to its route; re-deliveries add nothing.
 */
import { appendToOutbox, createEventBus, type EventBus, type OutboxEvent } from '@taskgraph/events';
import {
  createLogger,
  createMetrics,
  type Database,
  DEV_INTERNAL_TOKEN_SECRET,
  INTERNAL_TOKEN_HEADER,
  openDatabase,
  signInternalToken,
  testServiceConfig,
} from '@taskgraph/runtime';
import { createTestDatabase, type DaprSidecarDouble, startDaprSidecarDouble, type TestDatabase, waitFor } from '@taskgraph/test-kit';
import pg from 'pg';
import { type AuditService, createService } from './app.js';
import { AuditEntrySchema } from './entities/audit-entry.entity.js';
import { FakeTask, lifecycle } from './events/fake-task.fixture.js';
import { migrations } from './migrations/index.js';

let db: TestDatabase;
let sidecar: DaprSidecarDouble;
let service: AuditService;
/** The producer side (what tasks runs in dapr mode): outbox appends and the relay to the sidecar. */
let producerDb: Database;
let relay: EventBus;
let sql: pg.Client;

const feed = (events: OutboxEvent[]) => producerDb.fork().transactional((tx) => appendToOutbox(tx, events));
const entries = async (taskId: string) =>
  (await sql.query('select action, version from audit.audit_entry where task_id = $1 order by seq', [taskId])).rows.map((r) => [
    r.action,
    r.version,
  ]);

beforeAll(async () => {
  db = await createTestDatabase('audit_dapr');
  sidecar = await startDaprSidecarDouble({ appId: 'audit' });
  service = await createService(testServiceConfig(db.url, { eventBus: 'dapr', dapr: sidecar.config }));
  await sidecar.addApp(service.url.replace('/graphql', ''), { appId: 'audit' });
  const logger = createLogger('tasks-relay', 'silent');
  producerDb = await openDatabase({ url: db.url, schema: 'audit', entities: [AuditEntrySchema], migrations, logger });
  relay = await createEventBus({
    mode: 'dapr',
    db: producerDb,
    logger,
    metrics: createMetrics('tasks'),
    appId: 'tasks',
    relay: true,
    dapr: sidecar.config,
  });
  await relay.start();
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
});

afterAll(async () => {
  await sql?.end();
  await relay?.close();
  await producerDb?.close();
  await service?.close();
  await sidecar?.close();
  await db?.drop();
});

describe('audit subgraph (dapr)', () => {
  it('subscribes to task-events with a dead-letter topic', async () => {
    const res = await fetch(service.url.replace('/graphql', '/dapr/subscribe'));
    expect(await res.json()).toEqual([
      expect.objectContaining({ pubsubname: 'pubsub', topic: 'task-events', deadLetterTopic: 'task-events-dlq' }),
    ]);
  });

  it('records delivered events once, also when Dapr delivers them again', async () => {
    const task = new FakeTask('alice', 'via dapr');
    const events = lifecycle(task);
    await feed(events);
    await waitFor('5 entries', async () => (await entries(task.id)).length === 5);
    await sidecar.idle();
    expect(await entries(task.id)).toEqual([
      ['CREATED', 1],
      ['UPDATED', 2],
      ['UPDATED', 3],
      ['COMPLETED', 4],
      ['DELETED', 5],
    ]);

    for (const event of events.slice(0, 3)) await sidecar.redeliver(event.id);
    await sidecar.idle();
    expect(await entries(task.id)).toHaveLength(5);
    const toAudit = sidecar.deliveries.filter((d) => d.appId === 'audit' && d.eventId === events[0]!.id);
    expect(toAudit.map((d) => d.outcome)).toEqual(['SUCCESS', 'SUCCESS']);

    const headers = {
      'content-type': 'application/json',
      [INTERNAL_TOKEN_HEADER]: await signInternalToken('alice', DEV_INTERNAL_TOKEN_SECRET),
    };
    const res = await fetch(service.url, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        query: 'query($t: ID) { auditLog(filter: { taskId: $t }) { edges { node { action } } } }',
        variables: { t: task.id },
      }),
    });
    const body = (await res.json()) as { data: { auditLog: { edges: { node: { action: string } }[] } } };
    expect(body.data.auditLog.edges.map((e) => e.node.action)).toEqual(['DELETED', 'COMPLETED', 'UPDATED', 'UPDATED', 'CREATED']);
  });

  it('drops an inconsistent event to the dead-letter topic and keeps consuming', async () => {
    const bad = new FakeTask('bob', 'bad').created();
    const other = new FakeTask('bob', 'other');
    bad.data = { ...bad.data, taskId: other.id };
    const good = other.created();
    await feed([bad, good]);
    await waitFor('the good event', async () => (await entries(other.id)).length === 1);
    await sidecar.idle();
    expect(sidecar.deadLetters.filter((d) => d.eventId === bad.id).map((d) => d.deadLetterTopic)).toEqual(['task-events-dlq']);
    expect(Number((await sql.query('select count(*)::int as n from audit.audit_entry where event_id = $1', [bad.id])).rows[0].n)).toBe(0);
  });
});
