import { appendToOutbox, type DeliveredEvent, EventType, type OutboxEvent } from '@taskgraph/events';
import { createLogger, type Database, openDatabase, testServiceConfig } from '@taskgraph/runtime';
import { callSubgraph, createTestDatabase, type GqlResult, type TestDatabase } from '@taskgraph/test-kit';
import pg from 'pg';
import { type AuditService, createService } from './app.js';
import { AuditEntrySchema } from './entities/audit-entry.entity.js';
import { auditRecorder } from './events/audit-recorder.js';
import { FakeTask, lifecycle } from './events/fake-task.fixture.js';
import { migrations } from './migrations/index.js';

let db: TestDatabase;
let service: AuditService;
/** A second handle on the same database: appends to the outbox like the tasks service does. */
let feeder: Database;
let sql: pg.Client;

// biome-ignore lint/suspicious/noExplicitAny: response trees are checked field by field by the assertions
type Json = any;

const gql = <T = Record<string, Json>>(user: string | null, query: string, variables?: Record<string, unknown>) =>
  callSubgraph<T>(service.url, user, query, variables);

const codes = (r: GqlResult) => r.errors?.map((e) => e.extensions?.code);
const endpoint = (path: string) => service.url.replace('/graphql', path);
const metric = async (name: string) => {
  const text = await (await fetch(endpoint('/metrics'))).text();
  return Number(new RegExp(`^${name}\\{[^}]*\\} (\\d+)`, 'm').exec(text)?.[1]);
};

/** Appends events to `bus.outbox` in one transaction (the tasks service's transactional outbox). */
const feed = (events: OutboxEvent[]) => feeder.fork().transactional((tx) => appendToOutbox(tx, events));

const countEntries = async (where = 'true', params: unknown[] = []) =>
  Number((await sql.query(`select count(*)::int as n from audit.audit_entry where ${where}`, params)).rows[0].n);

/** Polls until the audit consumer has handled everything in the log. */
async function caughtUp(timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await sql.query(
      `select (select coalesce(max(seq), 0) from bus.outbox where topic = 'task-events')
            - coalesce((select seq from bus.consumer_offsets where consumer_group = 'audit' and topic = 'task-events'), 0) as lag`,
    );
    if (Number(rows[0].lag) === 0) return;
    if (Date.now() > deadline) throw new Error(`audit consumer still ${rows[0].lag} events behind after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const ENTRY = 'id eventId taskId action actor occurredAt recordedAt version changes { field from to } snapshot task { id }';

beforeAll(async () => {
  db = await createTestDatabase('audit');
  service = await createService(testServiceConfig(db.url));
  feeder = await openDatabase({
    url: db.url,
    schema: 'audit',
    entities: [AuditEntrySchema],
    migrations,
    logger: createLogger('audit-test', 'silent'),
  });
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
});

afterAll(async () => {
  await sql?.end();
  await feeder?.close();
  await service?.close();
  await db?.drop();
});

describe('audit subgraph', () => {
  it('refuses calls without the gateway internal token', async () => {
    expect(codes(await gql(null, '{ auditLog { edges { cursor } } }'))).toEqual(['UNAUTHENTICATED']);
  });

  it('records one entry per task event with action, actor, changes and snapshot', async () => {
    const task = new FakeTask('alice', 'Write report');
    const events = lifecycle(task);
    events[3] = { ...events[3]!, data: { ...events[3]!.data, actor: 'system:recurrence' } };
    await feed(events);
    await caughtUp();

    const res = await gql(
      'alice',
      `query($t: ID) { auditLog(filter: { taskId: $t }) { edges { node { ${ENTRY} } } pageInfo { hasNextPage } } }`,
      {
        t: task.id,
      },
    );
    expect(res.errors).toBeUndefined();
    const nodes = res.data!.auditLog.edges.map((e: { node: Record<string, Json> }) => e.node);
    expect(nodes.map((n: { action: string }) => n.action)).toEqual(['DELETED', 'COMPLETED', 'UPDATED', 'UPDATED', 'CREATED']);
    expect(nodes.map((n: { version: number }) => n.version)).toEqual([5, 4, 3, 2, 1]);
    expect(nodes.map((n: { eventId: string }) => n.eventId)).toEqual(events.map((e) => e.id).reverse());
    expect(nodes.map((n: { actor: string }) => n.actor)).toEqual(['alice', 'system:recurrence', 'alice', 'alice', 'alice']);
    expect(nodes[4].changes).toEqual([]);
    expect(nodes[3].changes).toEqual([
      { field: 'title', from: 'Write report', to: 'Write report!' },
      { field: 'notes', from: null, to: 'draft' },
    ]);
    expect(nodes[2].changes).toEqual([
      { field: 'priority', from: 'MEDIUM', to: 'HIGH' },
      { field: 'tags', from: [], to: ['work'] },
    ]);
    expect(nodes[1].changes).toEqual([
      { field: 'status', from: 'OPEN', to: 'DONE' },
      { field: 'completedAt', from: null, to: '2026-11-24T12:00:00.000Z' },
    ]);
    expect(nodes[1].snapshot).toMatchObject({ id: task.id, status: 'DONE', version: 4, tags: ['work'] });
    expect(nodes[0]).toMatchObject({ taskId: task.id, occurredAt: '2026-11-24T09:00:04.000Z', task: { id: task.id } });
    expect(Date.parse(nodes[0].recordedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(res.data!.auditLog.pageInfo.hasNextPage).toBe(false);

    // The task is deleted: its history stays readable through the entity.
    const history = await gql(
      'alice',
      'query($r: [_Any!]!) { _entities(representations: $r) { ... on Task { id history { edges { node { action version } } } } } }',
      {
        r: [{ __typename: 'Task', id: task.id }],
      },
    );
    expect(history.data!._entities[0].history.edges.map((e: { node: { version: number } }) => e.node.version)).toEqual([5, 4, 3, 2, 1]);
  });

  it('adds nothing when an event is delivered again', async () => {
    const task = new FakeTask('alice', 'again');
    const created = task.created();
    await feed([created]);
    await caughtUp();
    expect(await countEntries('event_id = $1', [created.id])).toBe(1);

    // The same event through the handler twice, in separate transactions (a Dapr re-delivery
    // whose processed marker was lost): the second insert hits the unique event id.
    const recorder = auditRecorder(createLogger('audit-test', 'silent'));
    const again = task.change(EventType.TaskUpdated, { title: 'again!' });
    const delivered = { ...again, seq: '0' } as DeliveredEvent;
    for (let i = 0; i < 2; i++) {
      expect(await feeder.fork().transactional((tx) => recorder.handler(delivered, tx))).toEqual({ status: 'SUCCESS' });
    }
    expect(await countEntries('event_id = $1', [again.id])).toBe(1);

    // The whole log replayed from offset 0 by a second instance of the consumer group.
    const before = await countEntries();
    const outboxRows = Number((await sql.query(`select count(*)::int as n from bus.outbox where topic = 'task-events'`)).rows[0].n);
    await sql.query(`update bus.consumer_offsets set seq = 0 where consumer_group = 'audit' and topic = 'task-events'`);
    const replay = await createService(testServiceConfig(db.url));
    try {
      await caughtUp();
    } finally {
      await replay.close();
    }
    expect(outboxRows).toBeGreaterThan(5);
    expect(await countEntries()).toBe(before);
  });

  it('records a batch in one statement, in log order, as the handler would; an inconsistent event is left to the handler', async () => {
    const recorder = auditRecorder(createLogger('audit-test', 'silent'));
    const task = new FakeTask('carol', 'batched');
    const events = lifecycle(task).map((e, i) => ({ ...e, seq: String(1_000_000 + i) }) as DeliveredEvent);
    const bad = { ...new FakeTask('carol', 'other').created(), seq: '2000000' } as DeliveredEvent;
    (bad.data as { taskId: string }).taskId = task.id; // snapshot of another task: the handler drops it
    const statements: string[] = [];
    const listener = (q: { sql: string }) => statements.push(q.sql);
    const knex = feeder.fork().getConnection().getKnex();
    knex.on('query', listener);
    let taken: ReadonlySet<string> = new Set();
    try {
      taken = await feeder.fork().transactional((tx) => recorder.batchHandler!([...events, bad], tx));
    } finally {
      knex.off('query', listener);
    }
    expect([...taken].sort()).toEqual(events.map((e) => e.id).sort());
    expect(statements.filter((q) => q.includes('insert into audit.audit_entry'))).toHaveLength(1);
    const { rows } = await sql.query('select event_id, action, version from audit.audit_entry where task_id = $1 order by seq', [task.id]);
    expect(rows.map((r) => r.event_id)).toEqual(events.map((e) => e.id));
    expect(rows.map((r) => r.action)).toEqual(['CREATED', 'UPDATED', 'UPDATED', 'COMPLETED', 'DELETED']);
    // Again (a redelivered batch): nothing new.
    await feeder.fork().transactional((tx) => recorder.batchHandler!(events, tx));
    expect(await countEntries('task_id = $1', [task.id])).toBe(events.length);
  });

  it('refuses UPDATE, DELETE and TRUNCATE at the database', async () => {
    const task = new FakeTask('alice', 'immutable');
    await feed([task.created()]);
    await caughtUp();
    const before = (await sql.query('select * from audit.audit_entry where task_id = $1', [task.id])).rows;
    expect(before).toHaveLength(1);
    await expect(sql.query(`update audit.audit_entry set actor = 'mallory' where task_id = $1`, [task.id])).rejects.toThrow(
      /audit entries are immutable: UPDATE/,
    );
    await expect(sql.query('delete from audit.audit_entry where task_id = $1', [task.id])).rejects.toThrow(
      /audit entries are immutable: DELETE/,
    );
    await expect(sql.query('truncate audit.audit_entry')).rejects.toThrow(/audit entries are immutable: TRUNCATE/);
    expect((await sql.query('select * from audit.audit_entry where task_id = $1', [task.id])).rows).toEqual(before);
    // The triggers come from the committed migration, recorded by the migrator.
    const { rows } = await sql.query(
      `select tgname from pg_trigger where tgrelid = 'audit.audit_entry'::regclass and not tgisinternal order by tgname`,
    );
    expect(rows.map((r) => r.tgname)).toEqual(['audit_entry_no_truncate', 'audit_entry_no_update_or_delete']);
  });

  it('shows each caller only their own entries', async () => {
    const mine = new FakeTask('erin', 'erin only');
    await feed(lifecycle(mine));
    await caughtUp();
    const list = async (user: string, filter = {}) =>
      (await gql(user, 'query($f: AuditFilter) { auditLog(filter: $f, first: 100) { edges { node { taskId } } } }', { f: filter })).data!
        .auditLog.edges;
    expect(await list('erin')).toHaveLength(5);
    expect(await list('frank')).toEqual([]);
    expect(await list('frank', { taskId: mine.id })).toEqual([]);
    const entities = await gql(
      'frank',
      'query($r: [_Any!]!) { _entities(representations: $r) { ... on Task { history { edges { cursor } } } } }',
      {
        r: [{ __typename: 'Task', id: mine.id }],
      },
    );
    expect(entities.data!._entities).toEqual([{ history: { edges: [] } }]);
  });

  it('paginates newest first with stable cursors and filters', async () => {
    const user = 'gina';
    const tasks = [new FakeTask(user, 'a', new Date('2026-11-01T00:00:00Z')), new FakeTask(user, 'b', new Date('2026-11-01T00:00:00Z'))];
    const events: OutboxEvent[] = [];
    for (const t of tasks) events.push(t.created()); // two entries with the same occurredAt: seq breaks the tie
    for (let i = 0; i < 5; i++)
      for (const t of tasks) events.push(t.change(EventType.TaskUpdated, { notes: `n${i}` }, { stepMs: 3_600_000 }));
    events.push(tasks[0]!.change(EventType.TaskCompleted, { status: 'DONE' }));
    await feed(events);
    await caughtUp();
    const expected = (
      await sql.query('select event_id from audit.audit_entry where user_id = $1 order by occurred_at desc, seq desc', [user])
    ).rows.map((r) => r.event_id);
    expect(expected).toHaveLength(13);
    expect(expected.at(-1)).toBe(events[0]!.id); // same occurredAt: the later-recorded one first
    expect(expected.at(-2)).toBe(events[1]!.id);

    const pageThrough = async (connection: (after: string | null) => Promise<Json>) => {
      const seen: string[] = [];
      let after: string | null = null;
      for (let guard = 0; guard < 20; guard++) {
        const page = await connection(after);
        seen.push(...page.edges.map((e: { node: { eventId: string } }) => e.node.eventId));
        expect(page.pageInfo.hasPreviousPage).toBe(after !== null);
        if (!page.pageInfo.hasNextPage) return seen;
        expect(page.pageInfo.endCursor).toBe(page.edges.at(-1).cursor);
        after = page.pageInfo.endCursor;
      }
      throw new Error('pagination did not end');
    };
    const PAGE = 'edges { cursor node { eventId } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }';
    const log = (filter: Record<string, unknown>) => (after: string | null) =>
      gql(user, `query($f: AuditFilter, $a: Cursor) { auditLog(filter: $f, first: 4, after: $a) { ${PAGE} } }`, {
        f: filter,
        a: after,
      }).then((r) => r.data!.auditLog);
    expect(await pageThrough(log({}))).toEqual(expected);

    const byTask = await pageThrough(log({ taskId: tasks[1]!.id }));
    expect(byTask).toEqual(
      events
        .filter((e) => e.key === tasks[1]!.id)
        .map((e) => e.id)
        .reverse(),
    );
    expect(await pageThrough(log({ actions: ['COMPLETED', 'CREATED'] }))).toEqual([events.at(-1)!.id, events[1]!.id, events[0]!.id]);
    // from inclusive, to exclusive: the first hour's updates only (01:00).
    expect(await pageThrough(log({ from: '2026-11-01T01:00:00Z', to: '2026-11-01T02:00:00+00:00' }))).toEqual([
      events[3]!.id,
      events[2]!.id,
    ]);

    const history = (after: string | null) =>
      gql(
        user,
        `query($r: [_Any!]!, $a: Cursor) { _entities(representations: $r) { ... on Task { history(first: 2, after: $a) { ${PAGE} } } } }`,
        {
          r: [{ __typename: 'Task', id: tasks[0]!.id }],
          a: after,
        },
      ).then((r) => r.data!._entities[0].history);
    expect(await pageThrough(history)).toEqual(
      events
        .filter((e) => e.key === tasks[0]!.id)
        .map((e) => e.id)
        .reverse(),
    );
  });

  it('rejects bad input with BAD_USER_INPUT', async () => {
    const task = new FakeTask('hank', 'x');
    const historyCursor = Buffer.from(JSON.stringify(['history', '1'])).toString('base64url');
    const logCursor = Buffer.from(JSON.stringify(['log', '2026-11-01T00:00:00.000000Z', '1'])).toString('base64url');
    const cases: [string, Record<string, unknown>][] = [
      ['{ auditLog(first: 101) { edges { cursor } } }', {}],
      ['{ auditLog(first: 0) { edges { cursor } } }', {}],
      ['{ auditLog(after: "garbage") { edges { cursor } } }', {}],
      ['query($a: Cursor) { auditLog(after: $a) { edges { cursor } } }', { a: historyCursor }],
      ['query($f: AuditFilter) { auditLog(filter: $f) { edges { cursor } } }', { f: { from: 'yesterday' } }],
      ['query($f: AuditFilter) { auditLog(filter: $f) { edges { cursor } } }', { f: { to: '2026-13-45T10:00:00Z' } }],
      ['{ auditLog(filter: { from: "2026-11-02T00:00:00Z", to: "2026-11-01T00:00:00Z" }) { edges { cursor } } }', {}],
      [
        `{ _entities(representations: [{ __typename: "Task", id: "${task.id}" }]) { ... on Task { history(first: 1000) { edges { cursor } } } } }`,
        {},
      ],
      [
        'query($a: Cursor) { _entities(representations: [{ __typename: "Task", id: "x" }]) { ... on Task { history(after: $a) { edges { cursor } } } } }',
        { a: logCursor },
      ],
    ];
    for (const [query, variables] of cases) {
      const res = await gql('hank', query, variables);
      expect({ query, codes: codes(res) }).toEqual({ query, codes: ['BAD_USER_INPUT'] });
    }
    // A bad date literal in the document itself fails validation, like any invalid literal.
    expect(codes(await gql('hank', '{ auditLog(filter: { from: "yesterday" }) { edges { cursor } } }'))).toEqual([
      'GRAPHQL_VALIDATION_FAILED',
    ]);
    // A malformed task id is no task: empty, not an error.
    const odd = await gql('hank', '{ auditLog(filter: { taskId: "not-a-uuid" }) { edges { cursor } } }');
    expect(odd).toEqual({ data: { auditLog: { edges: [] } } });
  });

  it('drops an inconsistent event to the dead letters and keeps consuming', async () => {
    const bad = new FakeTask('ivan', 'bad').created();
    const other = new FakeTask('ivan', 'other');
    bad.data = { ...bad.data, taskId: other.id }; // snapshot of another task
    const good = other.created();
    await feed([bad, good]);
    await caughtUp();
    expect(await countEntries('event_id = $1', [bad.id])).toBe(0);
    expect(await countEntries('event_id = $1', [good.id])).toBe(1);
    const letters = await sql.query(`select reason from bus.dead_letters where consumer_group = 'audit' and event_id = $1`, [bad.id]);
    expect(letters.rows).toHaveLength(1);
    expect(letters.rows[0].reason).toMatch(/does not match/);
  });

  it('resolves the history of 100 tasks with one SQL query', async () => {
    const user = 'judy';
    const tasks = Array.from({ length: 100 }, (_, i) => new FakeTask(user, `t${i}`));
    // 0..2 updates per task: 100 creates + 100 updates = 200 entries.
    await feed(
      tasks.flatMap((t, i) => [
        t.created(),
        ...Array.from({ length: i % 3 }, (_, k) => t.change(EventType.TaskUpdated, { notes: `n${k}` })),
      ]),
    );
    await caughtUp();
    await new Promise((r) => setTimeout(r, 200)); // let the consumer go idle: only our query counts
    const representations = tasks.map((t) => ({ __typename: 'Task', id: t.id }));

    const before = await metric('db_queries_total');
    const res = await gql(
      user,
      'query($r: [_Any!]!) { _entities(representations: $r) { ... on Task { id history { edges { node { action } } } } } }',
      {
        r: representations,
      },
    );
    const after = await metric('db_queries_total');
    expect(res.errors).toBeUndefined();
    expect(after - before).toBe(1);
    expect(res.data!._entities.map((t: { history: { edges: unknown[] } }) => t.history.edges.length)).toEqual(
      tasks.map((_, i) => 1 + (i % 3)),
    );
    expect(res.data!._entities[2].history.edges.map((e: { node: { action: string } }) => e.node.action)).toEqual([
      'UPDATED',
      'UPDATED',
      'CREATED',
    ]);

    // Different arguments for the same tasks (aliases) still batch into one statement.
    const mixed = await gql(
      user,
      'query($r: [_Any!]!) { _entities(representations: $r) { ... on Task { one: history(first: 1) { edges { cursor } pageInfo { hasNextPage } } all: history { edges { cursor } } } } }',
      { r: representations },
    );
    expect((await metric('db_queries_total')) - after).toBe(1);
    expect(mixed.data!._entities[2].one).toMatchObject({ pageInfo: { hasNextPage: true } });
    expect(mixed.data!._entities[0].one).toMatchObject({ pageInfo: { hasNextPage: false } });
    expect(mixed.data!._entities[2].all.edges).toHaveLength(3);
  });

  it('reports consumer lag on /readyz and /metrics', async () => {
    await caughtUp();
    const ready = await fetch(endpoint('/readyz'));
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { checks: { bus: { ok: boolean; detail: Record<string, number> } } };
    expect(body.checks.bus).toEqual({ ok: true, detail: { audit: 0 } });
    const text = await (await fetch(endpoint('/metrics'))).text();
    expect(text).toMatch(/^consumer_lag_events\{[^}]*group="audit"[^}]*\} 0$/m);
    expect(await metric('events_consumed_total')).toBeGreaterThan(0);
  });
});
