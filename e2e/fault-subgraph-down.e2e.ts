/**
 * Fault 4: a subgraph goes down under the running gateway. Queries that do not need it keep
 * working; fields it owns fail with UNAVAILABLE (never a hang, never an uncoded error);
 * subscriptions end with an error instead of hanging; everything works again once it restarts.
 */
import { connectGateway, createTestDatabase, type GatewayClient, type TestDatabase } from '@taskgraph/testing';
import { Cluster, SYSTEM_SUBGRAPHS } from './support/cluster.js';
import { Figures } from './support/figures.js';

const figures = new Figures('subgraph-down');
let db: TestDatabase;
let cluster: Cluster;
const clients: GatewayClient[] = [];
let taskId: string;

beforeAll(async () => {
  db = await createTestDatabase('subgraph_down');
  cluster = await Cluster.start({ databaseUrl: db.url, subgraphs: SYSTEM_SUBGRAPHS, gateway: { subgraphTimeoutMs: 5_000 } });
  const created = await cluster.graphql<{ createTask: { id: string } }>(
    'mutation { createTask(input: { title: "down" }) { id } }',
    {},
    'alice',
  );
  taskId = created.data!.createTask.id;
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await cluster?.close();
  await db?.drop();
  figures.report();
});

async function connect(user: string): Promise<GatewayClient> {
  const client = connectGateway(cluster.gatewayUrl, await cluster.tokenFor(user));
  clients.push(client);
  return client;
}

/** Runs `body` with `name` stopped, then starts it again and checks it answers through the gateway. */
async function withDown(name: string, body: () => Promise<void>): Promise<void> {
  await cluster.member(name).stop();
  figures.add('faults');
  try {
    await body();
  } finally {
    await cluster.member(name).start();
  }
}

const HISTORY = 'history { edges { node { action } } }';
const codes = (res: { errors?: readonly { extensions?: Record<string, unknown> }[] }) => (res.errors ?? []).map((e) => e.extensions?.code);

describe('audit down', () => {
  it('still serves tasks, and only history fails with UNAVAILABLE (partial data)', async () => {
    await withDown('audit', async () => {
      const plain = await cluster.graphql<{ tasks: { edges: { node: { id: string } }[] } }>(
        '{ tasks(first: 5) { edges { node { id title } } } }',
        {},
        'alice',
      );
      expect(plain.errors).toBeUndefined();
      expect(plain.data!.tasks.edges.map((e) => e.node.id)).toContain(taskId);
      const started = Date.now();
      const single = await cluster.graphql(`query($id: ID!) { task(id: $id) { id title ${HISTORY} } }`, { id: taskId }, 'alice');
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(codes(single)).toEqual(['UNAVAILABLE']);
      expect(single.data).toEqual({ task: { id: taskId, title: 'down', history: null } });
      figures.add('attempts', 2);
    });
  });

  // `Task.history` (audit) and `Task.reminders` (notifications) are nullable so that one failed
  // fetch nulls only that field, not every Task up to the non-null `tasks` root.
  it('keeps the task list when only history is unavailable (partial data)', async () => {
    await withDown('audit', async () => {
      const list = await cluster.graphql<{ tasks: { edges: { node: { id: string; history: unknown } }[] } | null }>(
        `{ tasks(first: 5) { edges { node { id title ${HISTORY} } } } }`,
        {},
        'alice',
      );
      expect(codes(list)).toContain('UNAVAILABLE');
      expect(list.data?.tasks?.edges.map((e) => e.node.id)).toContain(taskId);
      expect(list.data?.tasks?.edges.find((e) => e.node.id === taskId)?.node.history).toBeNull();
    });
  });

  it('answers again once audit is back', async () => {
    const res = await cluster.graphql(`query($id: ID!) { task(id: $id) { id ${HISTORY} } }`, { id: taskId }, 'alice');
    expect(res.errors).toBeUndefined();
    expect(res.data).toEqual({ task: { id: taskId, history: { edges: [{ node: { action: 'CREATED' } }] } } });
  });
});

describe('subscriptions with a subgraph down', () => {
  const FEED = `subscription { taskUpdates { taskId op task { title ${HISTORY} } } }`;

  it('ends a live subscription with UNAVAILABLE when sync goes down, and a new one is refused the same way', async () => {
    const client = await connect('alice');
    const live = client.subscribe(FEED);
    // Live once an update arrives through it.
    await new Promise((r) => setTimeout(r, 500));
    await cluster.graphql('mutation($id: ID!) { updateTask(id: $id, input: { notes: "live" }) { id } }', { id: taskId }, 'alice');
    await live.waitFor(1, 15_000);
    await withDown('sync', async () => {
      const ended = await Promise.race([live.ended, new Promise((r) => setTimeout(() => r('hang'), 15_000))]);
      expect(ended).toEqual({
        kind: 'error',
        error: [expect.objectContaining({ extensions: expect.objectContaining({ code: 'UNAVAILABLE' }) })],
      });
      const fresh = client.subscribe(FEED);
      const refused = await Promise.race([fresh.ended, new Promise((r) => setTimeout(() => r('hang'), 15_000))]);
      expect(refused).toEqual({
        kind: 'error',
        error: [expect.objectContaining({ extensions: expect.objectContaining({ code: 'UNAVAILABLE' }) })],
      });
      figures.add('attempts', 2);
    });
  });

  it('delivers updates with a coded error for the fields of a subgraph that is down (audit)', async () => {
    const client = await connect('alice');
    await withDown('audit', async () => {
      const sub = client.subscribe(FEED);
      await new Promise((r) => setTimeout(r, 500));
      await cluster.graphql('mutation($id: ID!) { updateTask(id: $id, input: { title: "renamed" }) { id } }', { id: taskId }, 'alice');
      const [result] = await sub.waitFor(1, 15_000);
      expect(result!.data).toEqual({ taskUpdates: { taskId, op: 'UPDATED', task: { title: 'renamed', history: null } } });
      expect(codes(result!)).toEqual(['UNAVAILABLE']);
      figures.add('attempts');
    });
    // And once audit is back, the same subscription resolves history again.
    const sub = client.subscribe(FEED);
    await new Promise((r) => setTimeout(r, 500));
    await cluster.graphql('mutation($id: ID!) { updateTask(id: $id, input: { title: "back" }) { id } }', { id: taskId }, 'alice');
    const [back] = await sub.waitFor(1, 15_000);
    expect(back!.errors).toBeUndefined();
    expect((back!.data as { taskUpdates: { task: { title: string } } }).taskUpdates.task.title).toBe('back');
  });
});
