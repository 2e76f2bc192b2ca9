import { EventType } from '@taskgraph/events';
import { testServiceConfig } from '@taskgraph/runtime';
import { callSubgraph, createTestDatabase, type GqlResult, type TestDatabase, waitFor } from '@taskgraph/test-kit';
import pg from 'pg';
import { createService, type NotificationsService } from './app.js';
import { appendEvents, metric, newTask, type TaskState, taskEvent } from './task-events.fixture.js';

/** The GraphQL contract: inbox, read state, Task.reminders; always scoped to the caller. */
let db: TestDatabase;
let service: NotificationsService;
let sql: pg.Client;
const gql = (user: string | null, query: string, variables?: Record<string, unknown>) => callSubgraph(service.url, user, query, variables);
const codes = (r: GqlResult) => r.errors?.map((e) => e.extensions?.code);

beforeAll(async () => {
  db = await createTestDatabase('notif_app');
  service = await createService(testServiceConfig(db.url));
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
});

afterAll(async () => {
  await sql?.end();
  await service?.close();
  await db?.drop();
});

const notificationCount = async (user: string) =>
  Number((await sql.query('select count(*)::int as n from notifications.notification where user_id = $1', [user])).rows[0].n);

/** A task whose `at` reminders passed a moment ago: each fires as soon as the event is consumed. */
async function taskWithPassedReminders(user: string, count: number, title = 'task'): Promise<TaskState> {
  const now = Date.now();
  const reminders = Array.from({ length: count }, (_, i) => ({ at: new Date(now - 1_000 - i * 100).toISOString() }));
  const task = newTask(user, { title, dueAt: new Date(now + 3_600_000), reminders });
  const before = await notificationCount(user);
  await appendEvents(sql, taskEvent(EventType.TaskCreated, task));
  await waitFor(`${count} notifications for ${user}`, async () => (await notificationCount(user)) === before + count, 5_000);
  return task;
}

const LIST = `query($first: Int, $after: Cursor, $unreadOnly: Boolean) {
  notifications(first: $first, after: $after, unreadOnly: $unreadOnly) {
    edges { cursor node { id kind title body fireAt createdAt readAt task { id } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;

describe('notifications subgraph', () => {
  let aliceTasks: TaskState[];
  beforeAll(async () => {
    aliceTasks = [await taskWithPassedReminders('alice', 3, 'Write report'), await taskWithPassedReminders('alice', 2, 'Pay rent')];
    await taskWithPassedReminders('bob', 1, 'Bob only');
  });

  it('refuses calls without the gateway internal token', async () => {
    expect(codes(await gql(null, '{ unreadNotificationCount }'))).toEqual(['UNAUTHENTICATED']);
  });

  it('lists the caller’s notifications newest first with Relay pagination', async () => {
    const seen: { id: string; createdAt: string; task: { id: string }; title: string }[] = [];
    let after: string | null = null;
    const pages: GqlResult[] = [];
    for (let guard = 0; guard < 10; guard++) {
      const res: GqlResult = await gql('alice', LIST, { first: 2, after });
      expect(res.errors).toBeUndefined();
      pages.push(res);
      const conn = res.data!.notifications;
      seen.push(...conn.edges.map((e: { node: (typeof seen)[number] }) => e.node));
      expect(conn.pageInfo.hasPreviousPage).toBe(after !== null);
      expect(conn.pageInfo.endCursor).toBe(conn.edges.at(-1)?.cursor ?? null);
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
    }
    expect(pages).toHaveLength(3);
    expect(seen).toHaveLength(5);
    expect(new Set(seen.map((n) => n.id)).size).toBe(5);
    const times = seen.map((n) => Date.parse(n.createdAt));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(seen.filter((n) => n.title === 'Reminder: Pay rent').map((n) => n.task.id)).toEqual([aliceTasks[1]!.id, aliceTasks[1]!.id]);
    expect(seen[0]).toMatchObject({ kind: 'REMINDER', readAt: null, body: expect.stringMatching(/^Due \d{4}-/) });

    const bob = await gql('bob', LIST, { first: 20 });
    expect(bob.data!.notifications.edges.map((e: { node: { title: string } }) => e.node.title)).toEqual(['Reminder: Bob only']);
  });

  it('rejects bad paging arguments with BAD_USER_INPUT', async () => {
    expect(codes(await gql('alice', LIST, { first: 101 }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await gql('alice', LIST, { first: 0 }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await gql('alice', LIST, { after: 'garbage' }))).toEqual(['BAD_USER_INPUT']);
  });

  it('marks one read (idempotently), counts unread, filters unreadOnly, and never touches another user’s', async () => {
    const count = async (user: string) => (await gql(user, '{ unreadNotificationCount }')).data!.unreadNotificationCount;
    expect(await count('alice')).toBe(5);
    const first = (await gql('alice', LIST, { first: 1 })).data!.notifications.edges[0].node;

    const bobTries = await gql('bob', 'mutation($id: ID!) { markNotificationRead(id: $id) { id } }', { id: first.id });
    expect(codes(bobTries)).toEqual(['NOT_FOUND']);
    expect(codes(await gql('alice', 'mutation { markNotificationRead(id: "nope") { id } }'))).toEqual(['NOT_FOUND']);
    expect(await count('alice')).toBe(5);

    const marked = await gql('alice', 'mutation($id: ID!) { markNotificationRead(id: $id) { id readAt } }', { id: first.id });
    expect(marked.errors).toBeUndefined();
    const readAt = marked.data!.markNotificationRead.readAt;
    expect(Date.parse(readAt)).toBeGreaterThan(Date.now() - 5_000);
    const again = await gql('alice', 'mutation($id: ID!) { markNotificationRead(id: $id) { readAt } }', { id: first.id });
    expect(again.data!.markNotificationRead.readAt).toBe(readAt);
    expect(await count('alice')).toBe(4);

    const unread = await gql('alice', LIST, { first: 20, unreadOnly: true });
    const unreadIds = unread.data!.notifications.edges.map((e: { node: { id: string } }) => e.node.id);
    expect(unreadIds).toHaveLength(4);
    expect(unreadIds).not.toContain(first.id);

    expect((await gql('bob', 'mutation { markAllNotificationsRead }')).data!.markAllNotificationsRead).toBe(1);
    expect(await count('alice')).toBe(4);
    expect((await gql('alice', 'mutation { markAllNotificationsRead }')).data!.markAllNotificationsRead).toBe(4);
    expect((await gql('alice', 'mutation { markAllNotificationsRead }')).data!.markAllNotificationsRead).toBe(0);
    expect(await count('alice')).toBe(0);
    expect((await gql('alice', LIST, { unreadOnly: true })).data!.notifications.edges).toEqual([]);
  });

  it('resolves Task.reminders for a batch of references with one SQL query, scoped to the caller', async () => {
    const now = Date.now();
    const tasks: TaskState[] = [];
    for (let i = 0; i < 20; i++)
      tasks.push(newTask('carol', { dueAt: new Date(now + 3_600_000 + i * 60_000), reminders: [{ offset: 'PT15M' }, { offset: 'PT5M' }] }));
    const done = newTask('carol', { status: 'DONE', dueAt: new Date(now + 3_600_000), reminders: [{ offset: 'PT15M' }] });
    await appendEvents(sql, ...[...tasks, done].map((t) => taskEvent(EventType.TaskCreated, t)));
    await waitFor('41 reminders for carol', async () => {
      const { rows } = await sql.query('select count(*)::int as n from notifications.reminder where user_id = $1', ['carol']);
      return rows[0].n === 41;
    });
    const ENTITIES =
      'query($r: [_Any!]!) { _entities(representations: $r) { ... on Task { id reminders { id index offset at fireAt status firedAt } } } }';
    const refs = [...tasks, done].map((t) => ({ __typename: 'Task', id: t.id }));
    const before = await metric(service.url, 'db_queries_total');
    const res = await gql('carol', ENTITIES, { r: refs });
    const after = await metric(service.url, 'db_queries_total');
    expect(res.errors).toBeUndefined();
    expect(after - before).toBe(1);
    const entities = res.data!._entities as { id: string; reminders: Record<string, unknown>[] }[];
    expect(entities.map((e) => e.id)).toEqual(refs.map((r) => r.id));
    expect(entities[0]!.reminders).toEqual([
      {
        id: `reminder-${tasks[0]!.id}-0`,
        index: 0,
        offset: 'PT15M',
        at: null,
        fireAt: new Date(now + 3_600_000 - 15 * 60_000).toISOString(),
        status: 'SCHEDULED',
        firedAt: null,
      },
      expect.objectContaining({ index: 1, offset: 'PT5M', status: 'SCHEDULED' }),
    ]);
    expect(entities[20]!.reminders).toEqual([expect.objectContaining({ status: 'CANCELLED' })]);

    const stranger = await gql('mallory', ENTITIES, { r: refs.slice(0, 3) });
    expect(stranger.data!._entities).toEqual(refs.slice(0, 3).map((r) => ({ id: r.id, reminders: [] })));
  });

  it('resolves Notification.task as a reference carrying its reminders', async () => {
    const res = await gql('bob', '{ notifications { edges { node { task { id reminders { status firedAt } } } } } }');
    const task = res.data!.notifications.edges[0].node.task;
    expect(task.reminders).toEqual([{ status: 'FIRED', firedAt: expect.any(String) }]);
  });
});
