/**
 * Audit, end to end: the real tasks and audit subgraphs behind the real gateway, events flowing
 * through the embedded bus. A task's lifecycle becomes its audit trail; `Task.history` joins it
 * into task queries; each user sees only their own entries.
 */
import { type RunningSystem, startSystem } from '@taskgraph/testing';

let system: RunningSystem;

beforeAll(async () => {
  system = await startSystem();
});

afterAll(async () => {
  await system?.close();
});

interface Change {
  field: string;
  from: unknown;
  to: unknown;
}
interface Entry {
  action: string;
  actor: string;
  version: number;
  taskId: string;
  changes: Change[];
  task: { id: string } | null;
}
type Connection<T> = { edges: { node: T }[] };

const ENTRY = 'action actor version taskId changes { field from to } task { id }';
const AUDIT_LOG = `query($f: AuditFilter) { auditLog(filter: $f, first: 100) { edges { node { ${ENTRY} } } } }`;

async function mutate<T = { id: string; version: number }>(as: string, mutation: string, variables: Record<string, unknown>): Promise<T> {
  const res = await system.graphql<Record<string, T>>(mutation, variables, as);
  expect(res.errors).toBeUndefined();
  return Object.values(res.data!)[0]!;
}

const createTask = (as: string, title: string) =>
  mutate(as, 'mutation($t: String!) { createTask(input: { title: $t }) { id version } }', { t: title });

async function auditLog(as: string, filter: Record<string, unknown> = {}): Promise<Entry[]> {
  const res = await system.graphql<{ auditLog: Connection<Entry> }>(AUDIT_LOG, { f: filter }, as);
  expect(res.errors).toBeUndefined();
  return res.data!.auditLog.edges.map((e) => e.node);
}

/** Polls until the audit consumer has recorded `count` entries for the filter (events are asynchronous). */
async function auditLogOf(as: string, filter: Record<string, unknown>, count: number, timeoutMs = 10_000): Promise<Entry[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const entries = await auditLog(as, filter);
    if (entries.length >= count) return entries;
    if (Date.now() > deadline) throw new Error(`audit has ${entries.length} of ${count} entries after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('audit through the gateway', () => {
  it('records a task lifecycle in order with field-level changes, kept after deletion', async () => {
    const { id } = await createTask('alice', 'Plan sprint');
    await mutate('alice', 'mutation($id: ID!) { updateTask(id: $id, input: { title: "Plan the sprint" }) { id version } }', { id });
    await mutate('alice', 'mutation($id: ID!) { updateTask(id: $id, input: { priority: HIGH, tags: ["work"] }) { id version } }', { id });
    await mutate('alice', 'mutation($id: ID!) { completeTask(id: $id) { id version } }', { id });
    await mutate('alice', 'mutation($id: ID!) { deleteTask(id: $id) { id version } }', { id });

    const entries = await auditLogOf('alice', { taskId: id }, 5);
    expect(entries.map((e) => [e.action, e.version, e.actor])).toEqual([
      ['DELETED', 5, 'alice'],
      ['COMPLETED', 4, 'alice'],
      ['UPDATED', 3, 'alice'],
      ['UPDATED', 2, 'alice'],
      ['CREATED', 1, 'alice'],
    ]);
    expect(entries[4]!.changes).toEqual([]);
    expect(entries[3]!.changes).toEqual([{ field: 'title', from: 'Plan sprint', to: 'Plan the sprint' }]);
    expect(entries[2]!.changes).toEqual([
      { field: 'priority', from: 'MEDIUM', to: 'HIGH' },
      { field: 'tags', from: [], to: ['work'] },
    ]);
    expect(entries[1]!.changes.map((c) => c.field)).toEqual(['status', 'completedAt']);
    expect(entries[1]!.changes[0]).toEqual({ field: 'status', from: 'OPEN', to: 'DONE' });
    // audit alone answers `task { id }`: the reference is there even though the task is gone.
    expect(entries.every((e) => e.task?.id === id)).toBe(true);

    // Any task field beyond the key goes to tasks, which no longer has the task: `task` is null.
    const resolved = await system.graphql<{ auditLog: Connection<{ action: string; task: { title: string } | null }> }>(
      'query($f: AuditFilter) { auditLog(filter: $f) { edges { node { action task { title } } } } }',
      { f: { taskId: id } },
      'alice',
    );
    expect(resolved.errors).toBeUndefined();
    expect(resolved.data!.auditLog.edges.map((e) => e.node.task)).toEqual([null, null, null, null, null]);
  });

  it('adds history to tasks queries and resolves entries back to live tasks', async () => {
    const { id } = await createTask('alice', 'Write tests');
    await mutate('alice', 'mutation($id: ID!) { updateTask(id: $id, input: { notes: "e2e" }) { id version } }', { id });
    await auditLogOf('alice', { taskId: id }, 2);

    const res = await system.graphql<{ tasks: Connection<{ id: string; title: string; history: Connection<Entry> }> }>(
      `{ tasks(first: 100) { edges { node { id title history(first: 10) { edges { node { ${ENTRY} } } } } } } }`,
      {},
      'alice',
    );
    expect(res.errors).toBeUndefined();
    const node = res.data!.tasks.edges.map((e) => e.node).find((t) => t.id === id)!;
    expect(node.title).toBe('Write tests');
    expect(node.history.edges.map((e) => [e.node.action, e.node.changes])).toEqual([
      ['UPDATED', [{ field: 'notes', from: null, to: 'e2e' }]],
      ['CREATED', []],
    ]);

    const live = await system.graphql<{ auditLog: Connection<{ task: { id: string; title: string } | null }> }>(
      'query($f: AuditFilter) { auditLog(filter: $f) { edges { node { task { id title } } } } }',
      { f: { taskId: id } },
      'alice',
    );
    expect(live.errors).toBeUndefined();
    expect(live.data!.auditLog.edges.map((e) => e.node.task)).toEqual([
      { id, title: 'Write tests' },
      { id, title: 'Write tests' },
    ]);
  });

  it("never shows user B any of user A's entries", async () => {
    const { id } = await createTask('alice', 'Secret plan');
    await auditLogOf('alice', { taskId: id }, 1);
    const mine = await createTask('bob', 'Bob task');
    await auditLogOf('bob', { taskId: mine.id }, 1);

    const bobLog = await auditLog('bob');
    expect(bobLog.length).toBeGreaterThan(0);
    expect(bobLog.every((e) => e.taskId === mine.id)).toBe(true);
    expect(await auditLog('bob', { taskId: id })).toEqual([]);

    const history = await system.graphql<{ tasks: Connection<{ id: string; history: Connection<Entry> }> }>(
      '{ tasks(first: 100) { edges { node { id history { edges { node { taskId } } } } } } }',
      {},
      'bob',
    );
    expect(history.errors).toBeUndefined();
    const seen = history.data!.tasks.edges.flatMap((e) => e.node.history.edges.map((h) => h.node.taskId));
    expect(seen).toEqual([mine.id]);
  });
});
