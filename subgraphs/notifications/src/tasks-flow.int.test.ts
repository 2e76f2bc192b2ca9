import { testServiceConfig } from '@taskgraph/runtime';
import { createService as createTasksService } from '@taskgraph/subgraph-tasks';
import { callSubgraph, createTestDatabase, type TestDatabase, waitFor } from '@taskgraph/test-kit';
import pg from 'pg';
import { createService, type NotificationsService } from './app.js';

/** With the real tasks subgraph on the same database: tasks' own events drive the reminders. */
let db: TestDatabase;
let tasks: { url: string; close(): Promise<void> };
let service: NotificationsService;
let sql: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase('notif_flow');
  tasks = await createTasksService(testServiceConfig(db.url));
  service = await createService(testServiceConfig(db.url));
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
});

afterAll(async () => {
  await sql?.end();
  await service?.close();
  await tasks?.close();
  await db?.drop();
});

const remindersOf = async (taskId: string) =>
  (await sql.query('select n, status, fire_at, generation from notifications.reminder where task_id = $1 order by n', [taskId])).rows;

describe('reminders from the tasks subgraph', () => {
  it('a task created through tasks gets its reminder as a notification', async () => {
    const dueAt = new Date(Date.now() + 3_000);
    const created = await callSubgraph(tasks.url, 'alice', 'mutation($input: CreateTaskInput!) { createTask(input: $input) { id } }', {
      input: { title: 'Stand-up', dueAt: dueAt.toISOString(), reminders: [{ offset: 'PT2S' }] },
    });
    expect(created.errors).toBeUndefined();
    const id = created.data!.createTask.id as string;
    const inbox = await waitFor('the notification in alice’s inbox', async () => {
      const res = await callSubgraph(service.url, 'alice', '{ notifications { edges { node { title createdAt fireAt task { id } } } } }');
      return res.data!.notifications.edges.length > 0 && res.data!.notifications.edges;
    });
    expect(inbox).toEqual([
      {
        node: {
          title: 'Reminder: Stand-up',
          createdAt: expect.any(String),
          fireAt: new Date(dueAt.getTime() - 2_000).toISOString(),
          task: { id },
        },
      },
    ]);
    expect(Date.parse(inbox[0].node.createdAt)).toBeGreaterThanOrEqual(dueAt.getTime() - 2_000);
  });

  it('the next occurrence of a recurring task gets the series’ reminders through task.created', async () => {
    const dueAt = new Date(Math.ceil(Date.now() / 1000) * 1000 + 3_600_000);
    const created = await callSubgraph(tasks.url, 'bob', 'mutation($input: CreateTaskInput!) { createTask(input: $input) { id } }', {
      input: { title: 'Water plants', dueAt: dueAt.toISOString(), recurrence: 'FREQ=DAILY', reminders: [{ offset: 'PT15M' }] },
    });
    const first = created.data!.createTask.id as string;
    await waitFor('the first occurrence’s reminder', async () => (await remindersOf(first)).length === 1);
    const done = await callSubgraph(tasks.url, 'bob', 'mutation($id: ID!) { completeTask(id: $id) { status } }', { id: first });
    expect(done.errors).toBeUndefined();

    // The recurrence worker creates the successor; notifications schedules its reminder.
    const next = await waitFor('the successor', async () => {
      const { rows } = await sql.query(
        "select data->>'taskId' as id from bus.outbox where topic = 'task-events' and type = 'taskgraph.task.created.v1' and data->'task'->>'previousOccurrenceId' = $1",
        [first],
      );
      return rows[0]?.id as string | undefined;
    });
    const nextFireAt = new Date(dueAt.getTime() + 86_400_000 - 15 * 60_000);
    await waitFor('the successor’s reminder', async () => (await remindersOf(next)).length === 1, 5_000);
    expect(await remindersOf(next)).toEqual([{ n: 0, status: 'SCHEDULED', fire_at: nextFireAt, generation: 1 }]);
    const job = (await sql.query("select due_at from bus.jobs where app_id = 'notifications' and name = $1", [`reminder-${next}-0`]))
      .rows[0];
    expect(job?.due_at).toEqual(nextFireAt);
    await waitFor(
      'the completed occurrence’s reminder to be cancelled',
      async () => (await remindersOf(first))[0]?.status === 'CANCELLED',
      5_000,
    );

    const viaEntities = await callSubgraph(
      service.url,
      'bob',
      'query($r: [_Any!]!) { _entities(representations: $r) { ... on Task { reminders { status fireAt } } } }',
      {
        r: [{ __typename: 'Task', id: next }],
      },
    );
    expect(viaEntities.data!._entities).toEqual([{ reminders: [{ status: 'SCHEDULED', fireAt: nextFireAt.toISOString() }] }]);
  });
});
