/**
 * Foundation, end to end: the real tasks subgraph on its own port, the real gateway composed from
 * its SDL, real Postgres. Clients only talk to the gateway with a JWT; users see only their data.
 */
import { INTERNAL_TOKEN_HEADER, signInternalToken } from '@taskgraph/runtime';
import { type RunningSystem, startSystem } from '@taskgraph/testing';

let system: RunningSystem;

beforeAll(async () => {
  system = await startSystem();
});

afterAll(async () => {
  await system?.close();
});

const CREATE = 'mutation($input: CreateTaskInput!) { createTask(input: $input) { id title status priority tags version } }';
const LIST = '{ tasks(first: 10) { edges { node { id title } } pageInfo { hasNextPage } } }';
type Task = { id: string; title: string; version: number };

async function createTask(as: string, title: string): Promise<Task> {
  const res = await system.graphql<{ createTask: Task }>(CREATE, { input: { title, priority: 'HIGH', tags: ['e2e'] } }, as);
  expect(res.errors).toBeUndefined();
  return res.data!.createTask;
}

describe('foundation through the gateway', () => {
  it('creates a task and lists it for its owner', async () => {
    const res = await system.graphql<{ createTask: Task }>(
      CREATE,
      { input: { title: 'write the gateway', priority: 'HIGH', tags: ['e2e'] } },
      'alice',
    );
    expect(res.status).toBe(200);
    expect(res.errors).toBeUndefined();
    expect(res.data!.createTask).toMatchObject({ title: 'write the gateway', status: 'OPEN', priority: 'HIGH', tags: ['e2e'], version: 1 });
    const list = await system.graphql<{ tasks: { edges: { node: { id: string; title: string } }[] } }>(LIST, {}, 'alice');
    expect(list.errors).toBeUndefined();
    expect(list.data!.tasks.edges.map((e) => e.node)).toContainEqual({ id: res.data!.createTask.id, title: 'write the gateway' });
  });

  it("does not let user B read, update, complete or delete user A's task", async () => {
    const task = await createTask('alice', 'private');

    const read = await system.graphql<{ task: Task | null }>('query($id: ID!) { task(id: $id) { id title } }', { id: task.id }, 'bob');
    expect(read.errors).toBeUndefined();
    expect(read.data).toEqual({ task: null });
    const list = await system.graphql<{ tasks: { edges: { node: Task }[] } }>(LIST, {}, 'bob');
    expect(list.data!.tasks.edges.map((e) => e.node.id)).not.toContain(task.id);

    const writes = [
      ['updateTask', 'mutation($id: ID!) { updateTask(id: $id, input: { title: "mine now" }) { id } }'],
      ['completeTask', 'mutation($id: ID!) { completeTask(id: $id) { id } }'],
      ['deleteTask', 'mutation($id: ID!) { deleteTask(id: $id) { id } }'],
    ] as const;
    for (const [field, mutation] of writes) {
      const res = await system.graphql(mutation, { id: task.id }, 'bob');
      expect(res.data).toBeNull();
      expect(res.errors).toHaveLength(1);
      expect(res.errors![0]).toMatchObject({ path: [field], extensions: { code: 'NOT_FOUND' } });
    }

    const after = await system.graphql<{ task: Task | null }>(
      'query($id: ID!) { task(id: $id) { id title version } }',
      { id: task.id },
      'alice',
    );
    expect(after.data).toEqual({ task: { id: task.id, title: 'private', version: 1 } });
  });

  it('refuses anonymous requests and cannot be bypassed by calling the subgraph directly', async () => {
    const anonymous = await system.graphql(LIST);
    expect(anonymous.status).toBe(401);
    expect(anonymous.errors![0]!.extensions!.code).toBe('UNAUTHENTICATED');

    const tasksUrl = system.services.tasks!.url;
    const direct = await fetch(tasksUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await system.tokenFor('alice')}` },
      body: JSON.stringify({ query: LIST }),
    });
    expect(direct.status).toBe(401);
    expect(((await direct.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('UNAUTHENTICATED');

    const forged = await fetch(tasksUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [INTERNAL_TOKEN_HEADER]: await signInternalToken('alice', 'f'.repeat(48)) },
      body: JSON.stringify({ query: LIST }),
    });
    expect(forged.status).toBe(401);
  });

  it('reports the system ready', async () => {
    const ready = await fetch(new URL('/readyz', system.gatewayUrl));
    expect(await ready.json()).toMatchObject({ ok: true, checks: { subgraphs: { ok: true, detail: { tasks: true } } } });
  });
});
