import { INTERNAL_TOKEN_HEADER, signInternalToken, testServiceConfig } from '@taskgraph/runtime';
import { callSubgraph, createTestDatabase, type GqlResult, type TestDatabase } from '@taskgraph/test-kit';
import pg from 'pg';
import { createService, type TasksService } from './app.js';

let db: TestDatabase;
let service: TasksService;
let sql: pg.Client;

// biome-ignore lint/suspicious/noExplicitAny: test responses are checked by the assertions
const gql = <T = Record<string, any>>(user: string | null, query: string, variables?: Record<string, unknown>) =>
  callSubgraph<T>(service.url, user, query, variables);

const codes = (r: GqlResult) => r.errors?.map((e) => e.extensions?.code);
const TASK_FIELDS = 'id title notes status priority tags dueAt timeZone recurrence version completedAt reminderRules { offset at }';
const CREATE = `mutation($input: CreateTaskInput!) { createTask(input: $input) { ${TASK_FIELDS} } }`;
const count = async (table = 'tasks.task') => Number((await sql.query(`select count(*)::int as n from ${table}`)).rows[0].n);

beforeAll(async () => {
  db = await createTestDatabase('tasks');
  service = await createService(testServiceConfig(db.url));
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
});

afterAll(async () => {
  await sql?.end();
  await service?.close();
  await db?.drop();
});

describe('tasks subgraph', () => {
  it('refuses calls without the gateway internal token', async () => {
    const res = await gql(null, '{ tasks { edges { node { id } } } }');
    expect(codes(res)).toEqual(['UNAUTHENTICATED']);
    const forged = await fetch(service.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [INTERNAL_TOKEN_HEADER]: await signInternalToken('mallory', 'x'.repeat(40)) },
      body: JSON.stringify({ query: '{ tasks { edges { node { id } } } }' }),
    });
    expect(((await forged.json()) as GqlResult).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('creates, reads, updates, completes, reopens and deletes with events in the outbox', async () => {
    const created = await gql('alice', CREATE, {
      input: {
        title: 'Write report',
        tags: ['work'],
        priority: 'HIGH',
        dueAt: '2026-12-01T10:00:00+01:00',
        reminders: [{ offset: 'PT15M' }],
      },
    });
    expect(created.errors).toBeUndefined();
    const task = created.data!.createTask;
    expect(task).toMatchObject({ title: 'Write report', status: 'OPEN', priority: 'HIGH', dueAt: '2026-12-01T09:00:00.000Z', version: 1 });
    expect(task.reminderRules).toEqual([{ offset: 'PT15M', at: null }]);

    const updated = await gql(
      'alice',
      'mutation($id: ID!) { updateTask(id: $id, input: { title: "Write the report", notes: "draft" }, expectedVersion: 1) { title notes version } }',
      {
        id: task.id,
      },
    );
    expect(updated.data!.updateTask).toEqual({ title: 'Write the report', notes: 'draft', version: 2 });

    const stale = await gql(
      'alice',
      'mutation($id: ID!) { updateTask(id: $id, input: { title: "Lost" }, expectedVersion: 1) { version } }',
      { id: task.id },
    );
    expect(codes(stale)).toEqual(['CONFLICT']);

    const done = await gql('alice', 'mutation($id: ID!) { completeTask(id: $id) { status completedAt version } }', { id: task.id });
    expect(done.data!.completeTask).toMatchObject({ status: 'DONE', version: 3 });
    const reopened = await gql('alice', 'mutation($id: ID!) { reopenTask(id: $id) { status completedAt version } }', { id: task.id });
    expect(reopened.data!.reopenTask).toEqual({ status: 'OPEN', completedAt: null, version: 4 });
    const deleted = await gql('alice', 'mutation($id: ID!) { deleteTask(id: $id) { id version } }', { id: task.id });
    expect(deleted.data!.deleteTask).toEqual({ id: task.id, version: 5 });
    expect((await gql('alice', 'query($id: ID!) { task(id: $id) { id } }', { id: task.id })).data!.task).toBeNull();

    const events = await sql.query('select topic, type, data from bus.outbox where key = $1 order by seq', [task.id]);
    const domain = events.rows.filter((r) => r.topic === 'task-events');
    expect(domain.map((r) => r.type)).toEqual([
      'taskgraph.task.created.v1',
      'taskgraph.task.updated.v1',
      'taskgraph.task.completed.v1',
      'taskgraph.task.reopened.v1',
      'taskgraph.task.deleted.v1',
    ]);
    expect(domain.map((r) => r.data.version)).toEqual([1, 2, 3, 4, 5]);
    expect(domain[1].data.changes).toEqual({ title: { from: 'Write report', to: 'Write the report' }, notes: { from: null, to: 'draft' } });
    expect(events.rows.filter((r) => r.topic === 'task-updates')).toHaveLength(5);
  });

  it('never shows or changes another user’s task (NOT_FOUND, not FORBIDDEN)', async () => {
    const { data } = await gql('alice', CREATE, { input: { title: 'private' } });
    const id = data!.createTask.id;
    expect((await gql('bob', 'query($id: ID!) { task(id: $id) { id } }', { id })).data!.task).toBeNull();
    for (const m of [
      'updateTask(id: $id, input: { title: "x" }) { id }',
      'completeTask(id: $id) { id }',
      'reopenTask(id: $id) { id }',
      'deleteTask(id: $id) { id }',
    ]) {
      expect(codes(await gql('bob', `mutation($id: ID!) { ${m} }`, { id }))).toEqual(['NOT_FOUND']);
    }
    const bobList = await gql('bob', '{ tasks(first: 100) { edges { node { id } } } }');
    expect(bobList.data!.tasks.edges.map((e: { node: { id: string } }) => e.node.id)).not.toContain(id);
    const entities = await gql('bob', 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Task { id title } } }', {
      r: [{ __typename: 'Task', id }],
    });
    expect(entities.data!._entities).toEqual([null]);
    const still = await gql('alice', 'query($id: ID!) { task(id: $id) { title version } }', { id });
    expect(still.data!.task).toEqual({ title: 'private', version: 1 });
  });

  it('rejects bad input with coded errors and writes nothing', async () => {
    const before = [await count(), await count('bus.outbox')];
    const cases: [string, Record<string, unknown>, string][] = [
      [CREATE, { input: { title: '' } }, 'BAD_USER_INPUT'],
      [CREATE, { input: { title: 'x'.repeat(501) } }, 'BAD_USER_INPUT'],
      [CREATE, { input: { title: 'ok', notes: 'n'.repeat(20_001) } }, 'BAD_USER_INPUT'],
      [CREATE, { input: { title: 'ok', tags: Array.from({ length: 21 }, (_, i) => `t${i}`) } }, 'BAD_USER_INPUT'],
      [CREATE, { input: { title: 'ok', recurrence: 'FREQ=FORTNIGHTLY', dueAt: '2026-12-01T10:00:00Z' } }, 'BAD_USER_INPUT'],
      [CREATE, { input: { title: 'ok', dueAt: 'next tuesday' } }, 'BAD_USER_INPUT'],
      [CREATE, { input: { title: 'ok', dueAt: '2026-13-45T10:00:00Z' } }, 'BAD_USER_INPUT'],
      ['mutation { updateTask(id: "00000000-0000-4000-8000-000000000000", input: { title: "x" }) { id } }', {}, 'NOT_FOUND'],
      ['mutation { deleteTask(id: "not-a-uuid") { id } }', {}, 'NOT_FOUND'],
      ['{ tasks(first: 1000) { edges { cursor } } }', {}, 'BAD_USER_INPUT'],
      ['{ tasks(after: "garbage") { edges { cursor } } }', {}, 'BAD_USER_INPUT'],
    ];
    for (const [query, variables, code] of cases) {
      const res = await gql('alice', query, variables);
      expect({ query: query.slice(0, 30), codes: codes(res) }).toEqual({ query: query.slice(0, 30), codes: [code] });
    }
    expect([await count(), await count('bus.outbox')]).toEqual(before);
  });

  it('filters and paginates with stable cursors', async () => {
    const user = 'carol';
    for (let i = 0; i < 7; i++) {
      await gql(user, CREATE, {
        input: {
          title: `task ${i}${i === 3 ? ' needle' : ''}`,
          tags: i % 2 === 0 ? ['even', 'all'] : ['odd', 'all'],
          priority: i === 5 ? 'URGENT' : 'LOW',
          dueAt: i === 6 ? null : new Date(Date.UTC(2026, 11, 1 + i)).toISOString(),
        },
      });
    }
    const page = async (args: string) => {
      const seen: string[] = [];
      let after: string | null = null;
      for (let guard = 0; guard < 10; guard++) {
        const res: GqlResult<any> = await gql(
          user,
          `query($after: Cursor) { tasks(${args}, first: 3, after: $after) { edges { cursor node { title } } pageInfo { hasNextPage endCursor } } }`,
          { after },
        );
        expect(res.errors).toBeUndefined();
        seen.push(...res.data.tasks.edges.map((e: { node: { title: string } }) => e.node.title));
        if (!res.data.tasks.pageInfo.hasNextPage) return seen;
        after = res.data.tasks.pageInfo.endCursor;
      }
      throw new Error('pagination did not end');
    };
    expect(await page('orderBy: DUE_AT_ASC')).toEqual(['task 0', 'task 1', 'task 2', 'task 3 needle', 'task 4', 'task 5', 'task 6']);
    expect(await page('orderBy: DUE_AT_DESC')).toEqual(['task 5', 'task 4', 'task 3 needle', 'task 2', 'task 1', 'task 0', 'task 6']);
    expect(await page('orderBy: CREATED_AT_ASC')).toHaveLength(7);
    expect((await page('orderBy: PRIORITY_DESC'))[0]).toBe('task 5');
    expect(await page('filter: { tags: ["even"] }, orderBy: DUE_AT_ASC')).toEqual(['task 0', 'task 2', 'task 4', 'task 6']);
    expect(await page('filter: { search: "NEEDLE" }')).toEqual(['task 3 needle']);
    expect(await page('filter: { priority: [URGENT] }')).toEqual(['task 5']);
    expect(await page('filter: { dueAfter: "2026-12-03T00:00:00Z", dueBefore: "2026-12-05T00:00:00Z" }, orderBy: DUE_AT_ASC')).toEqual([
      'task 2',
      'task 3 needle',
    ]);
    expect(await page('filter: { status: DONE }')).toEqual([]);
  });

  it('resolves a batch of entity references with one SQL query', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await gql('dave', CREATE, { input: { title: `ref ${i}` } })).data!.createTask.id);
    const metrics = async () => {
      const text = await (await fetch(service.url.replace('/graphql', '/metrics'))).text();
      return Number(/^db_queries_total\{[^}]*\} (\d+)/m.exec(text)?.[1]);
    };
    await new Promise((r) => setTimeout(r, 300)); // let the recurrence consumer go idle
    const before = await metrics();
    const res = await gql('dave', 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Task { id title } } }', {
      r: ids.map((id) => ({ __typename: 'Task', id })),
    });
    const after = await metrics();
    expect(res.data!._entities.map((t: { id: string }) => t.id)).toEqual(ids);
    expect(after - before).toBe(1);
  });

  it('computes nextOccurrences in the task time zone', async () => {
    const res = await gql('erin', CREATE, {
      input: { title: 'standup', dueAt: '2026-10-23T07:00:00Z', timeZone: 'Europe/Paris', recurrence: 'FREQ=DAILY' },
    });
    const id = res.data!.createTask.id;
    const next = await gql('erin', 'query($id: ID!) { task(id: $id) { recurrence nextOccurrences(count: 3) } }', { id });
    expect(next.data!.task).toEqual({
      recurrence: 'FREQ=DAILY',
      nextOccurrences: ['2026-10-24T07:00:00.000Z', '2026-10-25T08:00:00.000Z', '2026-10-26T08:00:00.000Z'],
    });
    expect(codes(await gql('erin', 'query($id: ID!) { task(id: $id) { nextOccurrences(count: 500) } }', { id }))).toEqual([
      'BAD_USER_INPUT',
    ]);
  });
});
