/**
 * Realtime under backlog (issue 13), end to end on the real system: a client offline for the
 * whole retention window (1,000 updates) resumes through the gateway with a plain graphql-ws
 * client (a light selection and one spanning tasks and audit) and with Apollo Client's
 * GraphQLWsLink, and gets exactly the missed updates plus the next live one, in order, once; and
 * every event's `task.history` includes that event's own version (causal freshness).
 */
import { ApolloClient, gql, InMemoryCache } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { connectGateway, type GatewayClient, gatewayWebSocketUrl, type RunningSystem, startSystem } from '@taskgraph/testing';
import { createClient } from 'graphql-ws';
import { WebSocket } from 'ws';

let system: RunningSystem;
const clients: GatewayClient[] = [];

beforeAll(async () => {
  system = await startSystem();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await system?.close();
});

async function graphql<T>(as: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await system.graphql<T>(query, variables, as);
  expect(res.errors).toBeUndefined();
  return res.data!;
}

/** The newest cursor now: subscribing `after` it misses nothing that happens later (sync's contract). */
const latestCursor = async (as: string) =>
  (await graphql<{ syncRetention: { latestCursor: string | null } }>(as, '{ syncRetention { latestCursor } }')).syncRetention.latestCursor;

const createTask = async (as: string, title: string) =>
  (await graphql<{ createTask: { id: string } }>(as, 'mutation($t: String!) { createTask(input: { title: $t }) { id } }', { t: title }))
    .createTask.id;

/** `count` updates of one task, 10 per request (aliases run in order). */
async function renameMany(as: string, taskId: string, count: number, label: string): Promise<void> {
  for (let done = 0; done < count; ) {
    const batch = Math.min(10, count - done);
    const fields = Array.from(
      { length: batch },
      (_, i) => `u${i}: updateTask(id: $id, input: { title: "${label} ${done + i}" }) { version }`,
    );
    await graphql(as, `mutation($id: ID!) { ${fields.join(' ')} }`, { id: taskId });
    done += batch;
  }
}

const connect = async (as: string) => {
  const client = connectGateway(system.gatewayUrl, await system.tokenFor(as));
  clients.push(client);
  return client;
};

type Light = { taskUpdates: { cursor: string; version: number; taskId: string } };
type Heavy = {
  taskUpdates: {
    cursor: string;
    version: number;
    taskId: string;
    task: { title: string; history: { edges: { node: { version: number } }[] } | null } | null;
  };
};
const LIGHT = 'subscription($a: Cursor) { taskUpdates(after: $a) { cursor version taskId } }';
const HEAVY = `subscription($a: Cursor) {
  taskUpdates(after: $a) { cursor version taskId task { title history(first: 5) { edges { node { version } } } } }
}`;

/** Versions 1..n, each once, in order: what a gap-free resume of one task's n updates delivers. */
const oneToN = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/**
 * Gap-free, duplicate-free and ordered, with cursors treated as opaque: every (task, version) once,
 * each task's versions 1..n in order, the live update last.
 */
function expectExactly(updates: readonly { taskId: string; version: number }[], perTask: ReadonlyMap<string, number>, live: string): void {
  expect(updates).toHaveLength([...perTask.values()].reduce((a, b) => a + b, 0));
  for (const [taskId, count] of perTask) expect(updates.filter((u) => u.taskId === taskId).map((u) => u.version)).toEqual(oneToN(count));
  expect(updates.at(-1)).toEqual({ taskId: live, version: perTask.get(live) });
}

describe('resume after a whole retention window offline', () => {
  it('replays exactly the 1,000 missed updates then the next live one: graphql-ws light and heavy, Apollo GraphQLWsLink', async () => {
    const user = 'resume-1000';
    const after = await latestCursor(user);
    // Offline: 1,000 updates of the user (4 creates + 4 × 249 renames), the whole per-user retention;
    // 4 request streams at a time, within the per-user in-flight limit (8).
    const writing = Date.now();
    const tasks = await Promise.all(Array.from({ length: 4 }, (_, i) => createTask(user, `backlog ${i}`)));
    await Promise.all(tasks.map((taskId) => renameMany(user, taskId, 249, 'offline')));
    const writeMs = Date.now() - writing;
    const perTask = new Map(tasks.map((taskId) => [taskId, 250]));

    const light = (await connect(user)).subscribe<Light>(LIGHT, { a: after });
    const heavy = (await connect(user)).subscribe<Heavy>(HEAVY, { a: after });

    const apolloSocket = createClient({
      url: gatewayWebSocketUrl(system.gatewayUrl),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${await system.tokenFor(user)}` },
      retryAttempts: 0,
    });
    const apolloCloses: number[] = [];
    apolloSocket.on('closed', (event) => apolloCloses.push((event as { code: number }).code));
    const apollo = new ApolloClient({ link: new GraphQLWsLink(apolloSocket), cache: new InMemoryCache() });
    const apolloSeen: Light['taskUpdates'][] = [];
    const apolloErrors: unknown[] = [];
    const apolloSub = apollo.subscribe<Light>({ query: gql(LIGHT), variables: { a: after } }).subscribe({
      next: (result) => {
        if (result.data) apolloSeen.push(result.data.taskUpdates);
        if (result.error) apolloErrors.push(result.error);
      },
      error: (error) => apolloErrors.push(error),
    });

    const started = Date.now();
    try {
      // Generous bounds: the writes and replays take seconds on a quiet machine, minutes on a saturated one.
      await light.waitFor(1_000, 150_000);
      const lightMs = Date.now() - started;
      await heavy.waitFor(1_000, 150_000);
      console.log(`1,000 updates written in ${writeMs} ms; replayed: light ${lightMs} ms, heavy ${Date.now() - started} ms`);
      await waitUntil(
        () => apolloSeen.length >= 1_000,
        60_000,
        () => `apollo saw ${apolloSeen.length}`,
      );
      // Then live: the next update reaches every one of them, once.
      const live = tasks[0]!;
      await renameMany(user, live, 1, 'live');
      perTask.set(live, 251);
      await light.waitFor(1_001, 10_000);
      await heavy.waitFor(1_001, 10_000);
      await waitUntil(
        () => apolloSeen.length >= 1_001,
        10_000,
        () => `apollo saw ${apolloSeen.length}`,
      );
      // Anything that would be a duplicate has time to arrive.
      await new Promise((resolve) => setTimeout(resolve, 300));

      expect(light.results.every((r) => r.errors === undefined)).toBe(true);
      const lightUpdates = light.results.map((r) => r.data!.taskUpdates);
      expectExactly(
        lightUpdates.map(({ taskId, version }) => ({ taskId, version })),
        perTask,
        live,
      );
      expect(new Set(lightUpdates.map((u) => u.cursor)).size).toBe(1_001);

      // The only error a heavy result may carry is audit lagging past its freshness bound (documented:
      // `history: null` + UPSTREAM_TIMEOUT, the event still delivered); every other field is there.
      const heavyErrors = heavy.results.flatMap((r) => r.errors ?? []);
      expect(heavyErrors.filter((e) => e.extensions?.code !== 'UPSTREAM_TIMEOUT' || e.path?.at(-1) !== 'history')).toEqual([]);
      if (heavyErrors.length > 0) console.log(`audit lagged past the freshness bound for ${heavyErrors.length} of 1,001 events`);
      const heavyUpdates = heavy.results.map((r) => r.data!.taskUpdates);
      expectExactly(
        heavyUpdates.map(({ taskId, version }) => ({ taskId, version })),
        perTask,
        live,
      );
      // Fields from tasks and audit, each reflecting at least its event (causal freshness).
      for (const u of heavyUpdates) {
        expect(u.task!.title).toEqual(expect.any(String));
        if (u.task!.history) expect(u.task!.history.edges[0]!.node.version).toBeGreaterThanOrEqual(u.version);
      }

      expect(apolloErrors).toEqual([]);
      expectExactly(
        apolloSeen.map(({ taskId, version }) => ({ taskId, version })),
        perTask,
        live,
      );
      // All three saw the same sequence.
      expect(apolloSeen.map((u) => u.cursor)).toEqual(lightUpdates.map((u) => u.cursor));
      expect(heavyUpdates.map((u) => u.cursor)).toEqual(lightUpdates.map((u) => u.cursor));

      // No close on any of the three sockets while replaying.
      expect(clients.flatMap((c) => c.closes)).toEqual([]);
      expect(apolloCloses).toEqual([]);
      expect((await system.gateway.subscriptions.metrics.slowConsumers.get()).values[0]?.value ?? 0).toBe(0);
    } finally {
      apolloSub.unsubscribe();
      await apolloSocket.dispose();
    }
  }, 600_000);
});

describe('causal freshness', () => {
  it("every history in 200 consecutive events of one task contains that event's own version", async () => {
    const user = 'fresh-200';
    const after = await latestCursor(user);
    const sub = (await connect(user)).subscribe<Heavy>(
      `subscription($a: Cursor) { taskUpdates(after: $a) { cursor version task { history(first: 100) { edges { node { version } } } } } }`,
      { a: after },
    );
    const taskId = await createTask(user, 'fresh');
    // Bursts of 10 updates per request: events reach sync while audit's consumer is still behind.
    await renameMany(user, taskId, 199, 'fresh');
    const results = await sub.waitFor(200, 200_000);
    expect(results.every((r) => r.errors === undefined)).toBe(true);
    const missing = results
      .map((r) => r.data!.taskUpdates)
      .filter((u) => !u.task?.history?.edges.some((e) => e.node.version === u.version))
      .map((u) => u.version);
    expect(missing).toEqual([]);
    expect(results.map((r) => r.data!.taskUpdates.version)).toEqual(oneToN(200));
  }, 300_000);
});

async function waitUntil(predicate: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
