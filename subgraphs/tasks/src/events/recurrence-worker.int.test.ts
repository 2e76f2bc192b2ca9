import { testServiceConfig } from '@taskgraph/runtime';
import {
  callSubgraph,
  createTestDatabase,
  type DaprSidecarDouble,
  startDaprSidecarDouble,
  type TestDatabase,
  waitFor,
} from '@taskgraph/test-kit';
import pg from 'pg';
import { createService, type TasksService } from '../app.js';
import { RECURRENCE_GROUP } from './recurrence-worker.js';

describe.each(['embedded', 'dapr'] as const)('recurrence worker (%s)', (mode) => {
  let db: TestDatabase;
  let service: TasksService;
  let sidecar: DaprSidecarDouble | undefined;
  let sql: pg.Client;

  const gql = async (query: string, variables: Record<string, unknown> = {}) => {
    const body = await callSubgraph(service.url, 'rita', query, variables);
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data!;
  };
  const successorOf = (id: string) =>
    waitFor(`successor of ${id}`, async () => {
      const { rows } = await sql.query('select id, due_at from tasks.task where previous_occurrence_id = $1', [id]);
      return rows[0] as { id: string; due_at: Date } | undefined;
    });
  const seriesSize = async (seriesId: string) =>
    Number((await sql.query('select count(*)::int n from tasks.task where series_id = $1', [seriesId])).rows[0].n);

  beforeAll(async () => {
    db = await createTestDatabase(`recur_${mode}`);
    sidecar = mode === 'dapr' ? await startDaprSidecarDouble({ appId: 'tasks' }) : undefined;
    service = await createService(testServiceConfig(db.url, mode === 'dapr' ? { eventBus: 'dapr', dapr: sidecar!.config } : {}));
    if (sidecar) await sidecar.addApp(service.url.replace(/\/graphql$/, ''), { appId: 'tasks' });
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
  });

  afterAll(async () => {
    await sql?.end();
    await service?.close();
    await sidecar?.close();
    await db?.drop();
  });

  it('creates exactly one next occurrence per completion, in the task time zone, until COUNT ends the series', async () => {
    const first = (
      await gql('mutation($i: CreateTaskInput!) { createTask(input: $i) { id seriesId } }', {
        i: {
          title: 'water plants',
          dueAt: '2026-10-24T07:00:00Z',
          timeZone: 'Europe/Paris',
          recurrence: 'FREQ=DAILY;COUNT=3',
          reminders: [{ offset: 'PT10M' }],
        },
      })
    ).createTask;
    expect(first.seriesId).toBe(first.id);

    await gql('mutation($id: ID!) { completeTask(id: $id) { status } }', { id: first.id });
    const second = await successorOf(first.id);
    // 09:00 Paris on 25 Oct 2026 is after the DST change: 08:00Z.
    expect(second.due_at.toISOString()).toBe('2026-10-25T08:00:00.000Z');
    const copy = await gql('query($id: ID!) { task(id: $id) { title status recurrence seriesId reminderRules { offset } } }', {
      id: second.id,
    });
    expect(copy.task).toEqual({
      title: 'water plants',
      status: 'OPEN',
      recurrence: 'FREQ=DAILY;COUNT=3',
      seriesId: first.id,
      reminderRules: [{ offset: 'PT10M' }],
    });

    await gql('mutation($id: ID!) { completeTask(id: $id) { status } }', { id: second.id });
    const third = await successorOf(second.id);
    expect(third.due_at.toISOString()).toBe('2026-10-26T08:00:00.000Z');
    await gql('mutation($id: ID!) { completeTask(id: $id) { status } }', { id: third.id });

    // The worker emits its own events: a created event by system:recurrence per occurrence.
    const created = await waitFor('worker events', async () => {
      const { rows } = await sql.query(
        "select key from bus.outbox where topic = 'task-events' and type = 'taskgraph.task.created.v1' and data->>'actor' = 'system:recurrence'",
      );
      return rows.length === 2 ? rows : undefined;
    });
    expect(created.map((r) => r.key).sort()).toEqual([second.id, third.id].sort());
    await new Promise((r) => setTimeout(r, 300));
    expect(await seriesSize(first.id)).toBe(3); // COUNT=3: no fourth occurrence
  });

  it('stays exactly once when completion events are delivered again', async () => {
    const task = (
      await gql('mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }', {
        i: { title: 'weekly review', dueAt: '2026-11-27T16:00:00Z', recurrence: 'FREQ=WEEKLY' },
      })
    ).createTask;
    await gql('mutation($id: ID!) { completeTask(id: $id) { status } }', { id: task.id });
    await successorOf(task.id);
    const { rows } = await sql.query(
      "select id from bus.outbox where topic = 'task-events' and key = $1 and type = 'taskgraph.task.completed.v1'",
      [task.id],
    );
    if (sidecar) {
      await sidecar.redeliver(rows[0].id);
      await sidecar.idle();
    } else {
      // Restart the consumer from the beginning of the log: every completion is seen again.
      await service.close();
      await sql.query('update bus.consumer_offsets set seq = 0 where consumer_group = $1', [RECURRENCE_GROUP]);
      service = await createService(testServiceConfig(db.url));
      await waitFor('replay', async () => {
        const { rows } = await sql.query(
          "select (select max(seq) from bus.outbox where topic = 'task-events') - seq as lag from bus.consumer_offsets where consumer_group = $1",
          [RECURRENCE_GROUP],
        );
        return Number(rows[0].lag) === 0 ? true : undefined;
      });
    }
    expect(await seriesSize(task.id)).toBe(2);
  });

  it('ends the series when the completed task was deleted, and follows an edited rule', async () => {
    const edited = (
      await gql('mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }', {
        i: { title: 'edit me', dueAt: '2026-12-01T10:00:00Z', recurrence: 'FREQ=DAILY' },
      })
    ).createTask;
    await gql('mutation($id: ID!) { updateTask(id: $id, input: { recurrence: "FREQ=WEEKLY" }) { version } }', { id: edited.id });
    await gql('mutation($id: ID!) { completeTask(id: $id) { status } }', { id: edited.id });
    expect((await successorOf(edited.id)).due_at.toISOString()).toBe('2026-12-08T10:00:00.000Z');

    const stopped = (
      await gql('mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }', {
        i: { title: 'stop me', dueAt: '2026-12-01T10:00:00Z', recurrence: 'FREQ=DAILY' },
      })
    ).createTask;
    await gql('mutation($id: ID!) { updateTask(id: $id, input: { recurrence: null }) { version } }', { id: stopped.id });
    await gql('mutation($id: ID!) { completeTask(id: $id) { status } }', { id: stopped.id });
    await new Promise((r) => setTimeout(r, 500));
    expect(
      Number((await sql.query('select count(*)::int n from tasks.task where previous_occurrence_id = $1', [stopped.id])).rows[0].n),
    ).toBe(0);
  });
});
