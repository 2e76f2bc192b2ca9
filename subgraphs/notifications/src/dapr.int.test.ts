import { EventType, sleep } from '@taskgraph/events';
import { testServiceConfig } from '@taskgraph/runtime';
import { createTestDatabase, type DaprSidecarDouble, startDaprSidecarDouble, type TestDatabase, waitFor } from '@taskgraph/test-kit';
import pg from 'pg';
import { createService, type NotificationsService } from './app.js';
import { deliverAsDapr, newTask, taskEvent } from './task-events.fixture.js';

/** Dapr mode against the sidecar double: the Jobs API wire format and the `/job/{name}` callback. */
let db: TestDatabase;
let sidecar: DaprSidecarDouble;
let service: NotificationsService;
let sql: pg.Client;
let appUrl: string;

beforeAll(async () => {
  db = await createTestDatabase('notif_dapr');
  sidecar = await startDaprSidecarDouble({ appId: 'notifications' });
  service = await createService({
    ...testServiceConfig(db.url),
    eventBus: 'dapr',
    dapr: sidecar.config,
    jobRetryIntervalMs: 200,
    jobMaxRetries: 3,
  });
  appUrl = service.url.replace(/\/graphql$/, '');
  await sidecar.addApp(appUrl, { appId: 'notifications' }); // discovery; jobs fire to this app
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
});

afterAll(async () => {
  await sql?.end();
  await service?.close();
  await sidecar?.close();
  await db?.drop();
});

const notificationsOf = async (taskId: string) =>
  (
    await sql.query<{ id: string; created_at: Date; generation: number }>('select * from notifications.notification where task_id = $1', [
      taskId,
    ])
  ).rows;
const jobRequestsFor = (name: string) => sidecar.jobRequests().filter((r) => r.path === `/v1.0/jobs/${name}`);
const trigger = (name: string, data: unknown) =>
  fetch(`${appUrl}/job/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(data) });

describe('reminders (dapr)', () => {
  it('serves the bus and scheduler routes', async () => {
    const subscribe = (await (await fetch(`${appUrl}/dapr/subscribe`)).json()) as { topic: string; routes: { default: string } }[];
    expect(subscribe).toEqual([
      expect.objectContaining({ pubsubname: 'pubsub', topic: 'task-events', routes: { default: '/events/task-events' } }),
    ]);
    // An unknown job name with garbage data is dropped (2xx, so Dapr does not retry it).
    const res = await trigger('reminder-x-0', { nonsense: true });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'DROP' });
  });

  it('schedules through the Jobs API and the /job/{name} callback creates the notification once', async () => {
    const t0 = Date.now();
    const task = newTask('alice', { title: 'Call Bob', dueAt: new Date(t0 + 3_000), reminders: [{ offset: 'PT2S' }] });
    const fireAt = new Date(t0 + 1_000);
    const name = `reminder-${task.id}-0`;
    expect(await deliverAsDapr(service.url, taskEvent(EventType.TaskCreated, task))).toEqual({ http: 200, status: 'SUCCESS' });

    const requests = jobRequestsFor(name);
    expect(requests.map((r) => [r.method, r.headers['content-type'], r.body])).toEqual([
      [
        'POST',
        'application/json',
        {
          dueTime: fireAt.toISOString(),
          repeats: 1,
          data: { taskId: task.id, userId: 'alice', n: 0, fireAt: fireAt.toISOString(), generation: 1 },
          overwrite: true,
          // A protobuf-JSON duration: daprd (and the double) refuse the Go form `200ms` with 400.
          failurePolicy: { constant: { interval: '0.2s', maxRetries: 3 } },
        },
      ],
    ]);

    const call = await waitFor('the job trigger', async () => sidecar.jobs.triggers.find((t) => t.name === name), 5_000);
    expect(call).toMatchObject({ ok: true, httpStatus: 200, attempt: 1 });
    const rows = await notificationsOf(task.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.created_at.getTime()).toBeGreaterThanOrEqual(fireAt.getTime());
    expect(call.at).toBeGreaterThanOrEqual(fireAt.getTime());

    // The relay publishes reminder.due on `reminders`, keyed by the task id.
    const published = await waitFor(
      'reminder.due published',
      async () =>
        sidecar.publishRequests().find((r) => r.path === '/v1.0/publish/pubsub/reminders' && r.query['metadata.partitionKey'] === task.id),
      5_000,
    );
    expect(published.headers['content-type']).toBe('application/cloudevents+json');
    expect(published.body).toMatchObject({
      type: EventType.ReminderDue,
      data: { taskId: task.id, reminderId: name, notificationId: rows[0]!.id },
    });

    // Dapr delivers the trigger again (at-least-once): acknowledged, still one notification.
    const again = await trigger(name, call.data);
    expect(again.status).toBe(200);
    expect(await notificationsOf(task.id)).toHaveLength(1);
  });

  it('overwrites the job when the due date moves and DELETEs it when the task is deleted', async () => {
    const now = Date.now();
    const task = newTask('bob', { dueAt: new Date(now + 3_600_000), reminders: [{ offset: 'PT15M' }] });
    const name = `reminder-${task.id}-0`;
    expect((await deliverAsDapr(service.url, taskEvent(EventType.TaskCreated, task))).status).toBe('SUCCESS');
    const moved = { ...task, dueAt: new Date(now + 7_200_000), version: 2 };
    expect((await deliverAsDapr(service.url, taskEvent(EventType.TaskUpdated, moved))).status).toBe('SUCCESS');
    expect(sidecar.jobs.get(name)).toMatchObject({ dueAt: new Date(now + 7_200_000 - 15 * 60_000), data: { generation: 2 } });

    const deleted = { ...moved, version: 3 };
    expect((await deliverAsDapr(service.url, taskEvent(EventType.TaskDeleted, deleted))).status).toBe('SUCCESS');
    expect(jobRequestsFor(name).map((r) => [r.method, (r.body as { dueTime?: string } | undefined)?.dueTime])).toEqual([
      ['POST', new Date(now + 3_600_000 - 15 * 60_000).toISOString()],
      ['POST', new Date(now + 7_200_000 - 15 * 60_000).toISOString()],
      ['DELETE', undefined],
    ]);
    expect(sidecar.jobs.get(name)).toBeUndefined();

    // A late trigger of the deleted reminder is acknowledged without a notification.
    const stale = await trigger(name, {
      taskId: task.id,
      userId: 'bob',
      n: 0,
      fireAt: new Date(Date.now() - 10).toISOString(),
      generation: 2,
    });
    expect(await stale.json()).toEqual({ status: 'SUCCESS' });
    expect(await notificationsOf(task.id)).toHaveLength(0);
  });

  it('asks Dapr to retry a trigger that overtook the event arming it; one notification either way', async () => {
    const fireAt = new Date(Date.now() - 10);
    const task = newTask('carol', { dueAt: new Date(Date.now() + 3_600_000), reminders: [{ at: fireAt.toISOString() }] });
    const name = `reminder-${task.id}-0`;
    const data = { taskId: task.id, userId: 'carol', n: 0, fireAt: fireAt.toISOString(), generation: 1 };
    const early = await trigger(name, data);
    expect(early.status).toBe(500); // the arming event is not applied yet: RETRY
    expect(await notificationsOf(task.id)).toHaveLength(0);

    expect((await deliverAsDapr(service.url, taskEvent(EventType.TaskCreated, task))).status).toBe('SUCCESS'); // fires (within grace)
    const retried = await trigger(name, data);
    expect(await retried.json()).toEqual({ status: 'SUCCESS' });
    expect((await notificationsOf(task.id)).map((n) => n.generation)).toEqual([1]);
  });

  it('marks a reminder MISSED when its trigger comes later than the grace window (60 s)', async () => {
    const task = newTask('carol', { dueAt: new Date(Date.now() + 3_600_000), reminders: [{ offset: 'PT15M' }] });
    const name = `reminder-${task.id}-0`;
    expect((await deliverAsDapr(service.url, taskEvent(EventType.TaskCreated, task))).status).toBe('SUCCESS');
    // As if the service had been unreachable for two minutes past the fire time.
    const fireAt = new Date(Date.now() - 120_000);
    await sql.query('update notifications.reminder set fire_at = $2 where id = $1', [name, fireAt]);
    const late = await trigger(name, { taskId: task.id, userId: 'carol', n: 0, fireAt: fireAt.toISOString(), generation: 1 });
    expect(await late.json()).toEqual({ status: 'SUCCESS' });
    expect(await notificationsOf(task.id)).toHaveLength(0);
    expect((await sql.query('select status from notifications.reminder where id = $1', [name])).rows).toEqual([{ status: 'MISSED' }]);
  });

  it('drops an event with an invalid reminder rule without calling the Jobs API', async () => {
    const task = newTask('dave', { dueAt: new Date(Date.now() + 3_600_000) });
    const before = sidecar.jobRequests().length;
    const result = await deliverAsDapr(service.url, taskEvent(EventType.TaskCreated, task, { reminders: [{ offset: 'PT0S' }] }));
    expect(result).toEqual({ http: 200, status: 'DROP' });
    await sleep(50);
    expect(sidecar.jobRequests().length).toBe(before);
    const letters = await sql.query("select reason from bus.dead_letters where consumer_group = 'notifications'");
    expect(letters.rows.map((r) => r.reason)).toEqual([expect.stringMatching(/offset "PT0S" is not a positive/)]);
  });

  it('dedupes a redelivered event by id', async () => {
    const task = newTask('erin', { dueAt: new Date(Date.now() + 3_600_000), reminders: [{ offset: 'PT15M' }] });
    const event = taskEvent(EventType.TaskCreated, task);
    const name = `reminder-${task.id}-0`;
    expect((await deliverAsDapr(service.url, event)).status).toBe('SUCCESS');
    expect((await deliverAsDapr(service.url, event)).status).toBe('SUCCESS');
    expect(jobRequestsFor(name)).toHaveLength(1);
  });
});
