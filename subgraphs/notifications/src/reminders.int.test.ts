import { EventType, reminderEventDataSchema, sleep } from '@taskgraph/events';
import { testServiceConfig } from '@taskgraph/runtime';
import { createTestDatabase, type TestDatabase, waitFor } from '@taskgraph/test-kit';
import pg from 'pg';
import { createService, type NotificationsService } from './app.js';
import { appendEvents, metric, newTask, type TaskState, taskEvent } from './task-events.fixture.js';

/** Embedded mode: events through `bus.outbox`, jobs in `bus.jobs`, real timers. */
let db: TestDatabase;
let service: NotificationsService;
let sql: pg.Client;

const GRACE_MS = 60_000;

beforeAll(async () => {
  db = await createTestDatabase('notif_rem');
  service = await createService({ ...testServiceConfig(db.url), reminderGraceMs: GRACE_MS, jobRetryIntervalMs: 200 });
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
});

afterAll(async () => {
  await sql?.end();
  await service?.close();
  await db?.drop();
});

interface NotificationRow {
  id: string;
  user_id: string;
  task_id: string;
  title: string;
  body: string;
  job_name: string;
  generation: number;
  fire_at: Date;
  created_at: Date;
}
const notificationsOf = async (taskId: string) =>
  (await sql.query<NotificationRow>('select * from notifications.notification where task_id = $1 order by created_at', [taskId])).rows;
const remindersOf = async (taskId: string) =>
  (await sql.query('select id, n, status, fire_at, generation from notifications.reminder where task_id = $1 order by n', [taskId])).rows;
const jobOf = async (name: string) =>
  (
    await sql.query<{ due_at: Date; data: Record<string, unknown> }>(
      "select due_at, data from bus.jobs where app_id = 'notifications' and name = $1",
      [name],
    )
  ).rows[0];
const appliedVersion = async (taskId: string) =>
  (await sql.query<{ version: number }>('select version from notifications.tracked_task where task_id = $1', [taskId])).rows[0]?.version;

const wakeScheduler = () => sql.query("select pg_notify('bus_jobs', 'notifications')");

/** Feeds events and waits until the consumer has applied `version` of the task. */
async function apply(task: TaskState, ...events: ReturnType<typeof taskEvent>[]) {
  await appendEvents(sql, ...events);
  await waitFor(`task ${task.id} v${task.version}`, async () => ((await appliedVersion(task.id)) ?? 0) >= task.version, 5_000);
}

describe('reminders (embedded scheduler)', () => {
  it('in one batch: tasks without reminders are brought up to date at once, tasks with reminders (now or before) get the full treatment', async () => {
    const due = new Date(Date.now() + 3_600_000);
    const plain = newTask('dora', { title: 'plain' });
    const armed = newTask('dora', { title: 'armed', dueAt: due, reminders: [{ offset: 'PT10M' }] });
    const disarmed = newTask('dora', { title: 'disarmed', dueAt: due, reminders: [{ offset: 'PT5M' }] });
    await apply(disarmed, taskEvent(EventType.TaskCreated, disarmed));
    expect(await jobOf(`reminder-${disarmed.id}-0`)).toBeDefined();
    // One transaction, so the consumer takes them as one batch; per task in version order.
    const events = [
      taskEvent(EventType.TaskCreated, plain),
      taskEvent(EventType.TaskCreated, armed),
      taskEvent(EventType.TaskUpdated, { ...plain, title: 'plain 2', version: 2 }),
      taskEvent(EventType.TaskUpdated, { ...disarmed, reminders: [], version: 2 }),
      taskEvent(EventType.TaskDeleted, { ...plain, title: 'plain 2', version: 3 }),
    ];
    await sql.query('begin');
    await appendEvents(sql, ...events);
    await sql.query('commit');
    await waitFor('all applied', async () => (await appliedVersion(plain.id)) === 3 && (await appliedVersion(disarmed.id)) === 2, 5_000);
    await waitFor('armed applied', async () => (await appliedVersion(armed.id)) === 1, 5_000);
    const tracked = await sql.query('select title, deleted from notifications.tracked_task where task_id = $1', [plain.id]);
    expect(tracked.rows[0]).toEqual({ title: 'plain 2', deleted: true });
    expect((await jobOf(`reminder-${armed.id}-0`))?.due_at.getTime()).toBe(due.getTime() - 600_000);
    expect(await jobOf(`reminder-${disarmed.id}-0`)).toBeUndefined();
    expect(await remindersOf(disarmed.id)).toEqual([]);
    expect(await remindersOf(plain.id)).toEqual([]);
  });

  it('fires exactly once at its fire time: due in 3 s, reminder PT2S before', async () => {
    const t0 = Date.now();
    const task = newTask('alice', { title: 'Call Bob', dueAt: new Date(t0 + 3_000), reminders: [{ offset: 'PT2S' }] });
    const fireAt = t0 + 1_000;
    await apply(task, taskEvent(EventType.TaskCreated, task));
    const job = await jobOf(`reminder-${task.id}-0`);
    expect(job?.due_at.getTime()).toBe(fireAt);
    expect(job?.data).toEqual({ taskId: task.id, userId: 'alice', n: 0, fireAt: new Date(fireAt).toISOString(), generation: 1 });

    const [notification] = await waitFor('the notification', async () => {
      const rows = await notificationsOf(task.id);
      return rows.length > 0 && rows;
    });
    const seenAt = Date.now();
    expect(notification!.created_at.getTime()).toBeGreaterThanOrEqual(fireAt); // never early
    expect(seenAt - fireAt).toBeLessThan(1_500); // typically < 20 ms; generous for loaded CI
    expect(notification).toMatchObject({ user_id: 'alice', title: 'Reminder: Call Bob', job_name: `reminder-${task.id}-0`, generation: 1 });

    await sleep(1_000); // a second trigger would land here
    expect(await notificationsOf(task.id)).toHaveLength(1);
    expect(await remindersOf(task.id)).toEqual([expect.objectContaining({ status: 'FIRED', generation: 1 })]);
    expect(await jobOf(`reminder-${task.id}-0`)).toBeUndefined();
    const due = (await sql.query("select topic, key, type, data from bus.outbox where topic = 'reminders' and key = $1", [task.id])).rows;
    expect(due).toHaveLength(1);
    expect(due[0].type).toBe(EventType.ReminderDue);
    const data = reminderEventDataSchema.parse(due[0].data);
    expect(data).toMatchObject({
      taskId: task.id,
      userId: 'alice',
      reminderId: `reminder-${task.id}-0`,
      notificationId: notification!.id,
      version: 1,
    });
    expect(new Date(data.fireAt).getTime()).toBe(fireAt);
  });

  it('acknowledges a duplicate trigger without a second notification', async () => {
    const task = newTask('alice', { dueAt: new Date(Date.now() + 30_000), reminders: [{ at: new Date(Date.now() + 300).toISOString() }] });
    await apply(task, taskEvent(EventType.TaskCreated, task));
    const name = `reminder-${task.id}-0`;
    const job = (await jobOf(name))!;
    await waitFor('the notification', async () => (await notificationsOf(task.id)).length === 1);
    await waitFor('the job to be done', async () => (await jobOf(name)) === undefined);

    const duplicatesBefore = await metric(service.url, 'reminders_total', 'outcome="duplicate"');
    // The scheduler delivers the same job again (at-least-once).
    await sql.query("insert into bus.jobs (app_id, name, due_at, data) values ('notifications', $1, now(), $2)", [
      name,
      JSON.stringify(job.data),
    ]);
    await wakeScheduler();
    await waitFor('the duplicate trigger to be handled', async () => (await jobOf(name)) === undefined, 5_000);
    expect(await metric(service.url, 'reminders_total', 'outcome="duplicate"')).toBe(duplicatesBefore + 1);
    expect(await notificationsOf(task.id)).toHaveLength(1);
  });

  it('retries a trigger that arrives early instead of notifying before the fire time', async () => {
    const fireAt = Date.now() + 350;
    const task = newTask('alice', { dueAt: new Date(fireAt + 60_000), reminders: [{ at: new Date(fireAt).toISOString() }] });
    await apply(task, taskEvent(EventType.TaskCreated, task));
    const earlyBefore = await metric(service.url, 'reminders_total', 'outcome="early"');
    // A scheduler on a skewed clock delivers the job now (retry interval here: 200 ms).
    await sql.query('update bus.jobs set due_at = now() where name = $1', [`reminder-${task.id}-0`]);
    await wakeScheduler();
    const [notification] = await waitFor('the notification', async () => {
      const rows = await notificationsOf(task.id);
      return rows.length > 0 && rows;
    });
    expect(notification!.created_at.getTime()).toBeGreaterThanOrEqual(fireAt);
    expect(await metric(service.url, 'reminders_total', 'outcome="early"')).toBeGreaterThan(earlyBefore);
    expect(await notificationsOf(task.id)).toHaveLength(1);
  });

  it('moving the due date moves the job; the old time never fires', async () => {
    const t0 = Date.now();
    const task = newTask('bob', { dueAt: new Date(t0 + 3_000), reminders: [{ offset: 'PT2S' }] });
    await apply(task, taskEvent(EventType.TaskCreated, task));
    const moved = { ...task, dueAt: new Date(t0 + 4_500), version: 2 };
    await apply(moved, taskEvent(EventType.TaskUpdated, moved));
    const newFireAt = t0 + 2_500;
    expect((await jobOf(`reminder-${task.id}-0`))?.due_at.getTime()).toBe(newFireAt);
    expect((await jobOf(`reminder-${task.id}-0`))?.data).toMatchObject({ generation: 2, fireAt: new Date(newFireAt).toISOString() });

    await sleep(t0 + 1_800 - Date.now()); // past the old fire time
    expect(await notificationsOf(task.id)).toHaveLength(0);
    const [notification] = await waitFor('the rescheduled notification', async () => {
      const rows = await notificationsOf(task.id);
      return rows.length > 0 && rows;
    });
    expect(notification!.created_at.getTime()).toBeGreaterThanOrEqual(newFireAt);
    expect(notification!.generation).toBe(2);
    await sleep(300);
    expect(await notificationsOf(task.id)).toHaveLength(1);
  });

  it('deleting the task cancels its reminders and deletes their jobs', async () => {
    const t0 = Date.now();
    const task = newTask('bob', { dueAt: new Date(t0 + 3_000), reminders: [{ offset: 'PT2S' }, { offset: 'PT1S' }] });
    await apply(task, taskEvent(EventType.TaskCreated, task));
    expect(await jobOf(`reminder-${task.id}-1`)).toBeDefined();
    const deleted = { ...task, version: 2 };
    await apply(deleted, taskEvent(EventType.TaskDeleted, deleted));
    expect(await jobOf(`reminder-${task.id}-0`)).toBeUndefined();
    expect(await jobOf(`reminder-${task.id}-1`)).toBeUndefined();
    expect((await remindersOf(task.id)).map((r) => r.status)).toEqual(['CANCELLED', 'CANCELLED']);
    await sleep(t0 + 2_300 - Date.now()); // past both fire times
    expect(await notificationsOf(task.id)).toHaveLength(0);
  });

  it('completing cancels, reopening re-arms only future reminders; removed rules lose their jobs', async () => {
    const now = Date.now();
    const task = newTask('carol', {
      dueAt: new Date(now + 3_600_000),
      reminders: [{ offset: 'PT30M' }, { offset: 'PT10M' }, { at: new Date(now + 1_500).toISOString() }],
    });
    await apply(task, taskEvent(EventType.TaskCreated, task));
    expect((await remindersOf(task.id)).map((r) => r.status)).toEqual(['SCHEDULED', 'SCHEDULED', 'SCHEDULED']);

    const done = { ...task, status: 'DONE' as const, version: 2 };
    await apply(done, taskEvent(EventType.TaskCompleted, done));
    expect((await remindersOf(task.id)).map((r) => r.status)).toEqual(['CANCELLED', 'CANCELLED', 'CANCELLED']);
    for (const n of [0, 1, 2]) expect(await jobOf(`reminder-${task.id}-${n}`)).toBeUndefined();

    await sleep(now + 1_600 - Date.now()); // let the absolute one pass (well within the grace window)
    const reopened = { ...task, status: 'OPEN' as const, version: 3 };
    await apply(reopened, taskEvent(EventType.TaskReopened, reopened));
    expect((await remindersOf(task.id)).map((r) => [r.status, r.generation])).toEqual([
      ['SCHEDULED', 3],
      ['SCHEDULED', 3],
      ['FIRED', 3], // passed less than the grace window ago: fired on reopening
    ]);
    expect((await jobOf(`reminder-${task.id}-0`))?.due_at.getTime()).toBe(now + 3_600_000 - 30 * 60_000);

    const trimmed = { ...reopened, reminders: [{ offset: 'PT30M' }], version: 4 };
    await apply(trimmed, taskEvent(EventType.TaskUpdated, trimmed));
    expect((await remindersOf(task.id)).map((r) => r.n)).toEqual([0]);
    expect(await jobOf(`reminder-${task.id}-1`)).toBeUndefined();
    expect((await jobOf(`reminder-${task.id}-0`))?.data).toMatchObject({ generation: 3 }); // unchanged: not re-armed
  });

  it('fires a just-passed reminder at once and marks one beyond the grace window MISSED, never scheduled', async () => {
    const now = Date.now();
    const task = newTask('dave', {
      dueAt: new Date(now + 3_600_000),
      reminders: [{ at: new Date(now - 5_000).toISOString() }, { at: new Date(now - GRACE_MS - 5_000).toISOString() }],
    });
    await apply(task, taskEvent(EventType.TaskCreated, task));
    expect((await remindersOf(task.id)).map((r) => r.status)).toEqual(['FIRED', 'MISSED']);
    expect(await jobOf(`reminder-${task.id}-0`)).toBeUndefined();
    expect(await jobOf(`reminder-${task.id}-1`)).toBeUndefined();
    const rows = await notificationsOf(task.id);
    expect(rows.map((r) => r.job_name)).toEqual([`reminder-${task.id}-0`]);
  });

  it('ignores older and duplicate events (version check)', async () => {
    const now = Date.now();
    const v1 = newTask('erin', { dueAt: new Date(now + 3_600_000), reminders: [{ offset: 'PT15M' }] });
    const v2 = { ...v1, dueAt: new Date(now + 7_200_000), version: 2 };
    // v2 overtakes v1; v2 is then delivered again under a new event id.
    await apply(v2, taskEvent(EventType.TaskUpdated, v2), taskEvent(EventType.TaskCreated, v1), taskEvent(EventType.TaskUpdated, v2));
    const marker = newTask('erin', { version: 1 });
    await apply(marker, taskEvent(EventType.TaskCreated, marker)); // everything before it was consumed
    expect(await appliedVersion(v1.id)).toBe(2);
    expect(await remindersOf(v1.id)).toEqual([
      expect.objectContaining({ status: 'SCHEDULED', generation: 2, fire_at: new Date(now + 7_200_000 - 15 * 60_000) }),
    ]);
    expect((await jobOf(`reminder-${v1.id}-0`))?.due_at.getTime()).toBe(now + 7_200_000 - 15 * 60_000);
  });

  it('acknowledges a stale trigger (reminder re-armed since) without notifying', async () => {
    const now = Date.now();
    const task = newTask('erin', { dueAt: new Date(now + 3_600_000), reminders: [{ offset: 'PT15M' }] });
    await apply(task, taskEvent(EventType.TaskCreated, task));
    const moved = { ...task, dueAt: new Date(now + 7_200_000), version: 2 };
    await apply(moved, taskEvent(EventType.TaskUpdated, moved));
    const name = `reminder-${task.id}-0`;
    const staleBefore = await metric(service.url, 'reminders_total', 'outcome="stale"');
    // The generation-1 job triggers after all (it was in flight while being overwritten); the
    // test reuses the job row for it, so the generation-2 job itself is gone afterwards.
    const staleData = { taskId: task.id, userId: 'erin', n: 0, fireAt: new Date(Date.now() - 1_000).toISOString(), generation: 1 };
    await sql.query('update bus.jobs set due_at = now(), data = $2 where name = $1', [name, JSON.stringify(staleData)]);
    await wakeScheduler();
    await waitFor('the stale trigger to be handled', async () => (await jobOf(name)) === undefined, 5_000);
    expect(await metric(service.url, 'reminders_total', 'outcome="stale"')).toBe(staleBefore + 1);
    expect(await notificationsOf(task.id)).toHaveLength(0);
    expect(await remindersOf(task.id)).toEqual([expect.objectContaining({ status: 'SCHEDULED', generation: 2 })]);
  });

  it('drops events with invalid reminder rules to the dead letters, never scheduling them', async () => {
    const task = newTask('frank', { dueAt: new Date(Date.now() + 3_600_000), reminders: [{ offset: 'PT15M' }] });
    const bad = taskEvent(EventType.TaskCreated, task, { reminders: [{ offset: 'PT15M' }, { offset: 'fifteen minutes' }] });
    const negative = taskEvent(EventType.TaskUpdated, { ...task, version: 2 }, { reminders: [{ offset: '-PT15M' }] });
    await appendEvents(sql, bad, negative);
    const letters = await waitFor('2 dead letters', async () => {
      const rows = (
        await sql.query("select event_id, reason from bus.dead_letters where consumer_group = 'notifications' and event_id = any($1)", [
          [bad.id, negative.id],
        ])
      ).rows;
      return rows.length === 2 && rows;
    });
    expect(letters.map((l) => l.reason).join('\n')).toMatch(
      /reminder 1: offset "fifteen minutes" is not a positive ISO-8601 duration[\s\S]*reminder 0: offset "-PT15M"/,
    );
    expect(await remindersOf(task.id)).toEqual([]);
    expect(await appliedVersion(task.id)).toBeUndefined();
    expect((await sql.query('select count(*)::int as n from bus.jobs where name like $1', [`reminder-${task.id}-%`])).rows[0].n).toBe(0);
  });
});
