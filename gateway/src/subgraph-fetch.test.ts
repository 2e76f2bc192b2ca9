/**
 * The gateway's subgraph fetches: identical in-flight reads are shared only within one user and
 * never across a write of that user, and a subgraph that does not answer costs its own fields only
 * (UPSTREAM_TIMEOUT), not the whole result. Real gateway, real HTTP subgraph held by a gate.
 */
import { createServer, type Server } from 'node:http';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { callerFromRequest, createLogger, createMetrics, DEV_INTERNAL_TOKEN_SECRET, startHttpService } from '@taskgraph/runtime';
import { testGatewayConfig } from '@taskgraph/testing';
import { parse } from 'graphql';
import { createGateway, type Gateway } from './app.js';
import { signDevToken } from './auth.js';
import { composeSupergraph } from './compose.js';
import { DEFAULT_JWT_AUDIENCE, DEFAULT_JWT_ISSUER, DEV_JWT_SECRET } from './config.js';
import { postGraphQL } from './fixtures/subgraphs.js';

const VIEWER_SDL = `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
type Query { viewer(tag: String!): Viewer! }
type Mutation { touch(tag: String!): Int! }
type Viewer @key(fields: "tag") { tag: String! userId: String! served: Int! }
`;
// Served by a server that never answers: its field can only time out.
const SLOW_SDL = `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
type Viewer @key(fields: "tag") { tag: String! slow: String }
`;

/** Resolver calls wait here until the test opens the gate. */
let gate: { open: Promise<void>; release: () => void };
const closeGate = () => {
  let release!: () => void;
  gate = { open: new Promise<void>((resolve) => (release = resolve)), release };
};
const calls: { field: string; userId: string }[] = [];
let served = 0;

let viewer: { url: string; close(): Promise<void> };
let hanging: Server;
let gateway: Gateway;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  closeGate();
  const server = new ApolloServer<{ userId: string }>({
    schema: buildSubgraphSchema({
      typeDefs: parse(VIEWER_SDL),
      resolvers: {
        Query: {
          viewer: async (_: unknown, args: { tag: string }, ctx: { userId: string }) => {
            calls.push({ field: 'viewer', userId: ctx.userId });
            await gate.open;
            return { tag: args.tag, userId: ctx.userId, served: ++served };
          },
        },
        Mutation: {
          touch: async (_: unknown, args: { tag: string }, ctx: { userId: string }) => {
            calls.push({ field: `touch ${args.tag}`, userId: ctx.userId });
            if (args.tag === 'held') await gate.open;
            return ++served;
          },
        },
      },
      // biome-ignore lint/suspicious/noExplicitAny: resolver map with a typed context
    } as any),
    plugins: [ApolloServerPluginInlineTraceDisabled()],
  });
  await server.start();
  const service = await startHttpService<{ userId: string }>({
    name: 'viewer',
    host: '127.0.0.1',
    port: 0,
    logger: createLogger('viewer', 'silent'),
    metrics: createMetrics('viewer'),
    readiness: [],
    graphql: { server, context: async (req) => ({ userId: (await callerFromRequest(req, DEV_INTERNAL_TOKEN_SECRET)).userId }) },
  });
  viewer = {
    url: `${service.url}/graphql`,
    close: async () => {
      await service.close();
      await server.stop();
    },
  };
  hanging = createServer(() => {});
  await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
  const slowUrl = `http://127.0.0.1:${(hanging.address() as { port: number }).port}/graphql`;
  const sdl = composeSupergraph([
    { name: 'viewer', url: viewer.url, sdl: VIEWER_SDL },
    { name: 'slow', url: slowUrl, sdl: SLOW_SDL },
  ]);
  gateway = await createGateway(testGatewayConfig({ kind: 'sdl', sdl }, { viewer: viewer.url, slow: slowUrl }, { subgraphTimeoutMs: 300 }));
  const jwt = { secret: DEV_JWT_SECRET, issuer: DEFAULT_JWT_ISSUER, audience: DEFAULT_JWT_AUDIENCE };
  for (const user of ['alice', 'bob']) tokens[user] = await signDevToken(user, jwt);
});

afterAll(async () => {
  gate?.release();
  await gateway?.close();
  await viewer?.close();
  hanging?.closeAllConnections();
  hanging?.close();
});

beforeEach(() => {
  calls.length = 0;
  closeGate();
});

const query = (user: string, tag: string) =>
  postGraphQL(
    gateway.url,
    { query: `query V($tag: String!) { viewer(tag: $tag) { tag userId served } }`, variables: { tag } },
    { authorization: `Bearer ${tokens[user]}` },
  );
const mutate = (user: string, tag: string) =>
  postGraphQL(
    gateway.url,
    { query: `mutation T($tag: String!) { touch(tag: $tag) }`, variables: { tag } },
    { authorization: `Bearer ${tokens[user]}` },
  );

/** Resolves once `predicate` holds (polled); the test's own timeout fails it otherwise. */
async function until(predicate: () => boolean): Promise<void> {
  while (!predicate()) await new Promise((resolve) => setTimeout(resolve, 5));
}
const reads = () => gateway.readStats.sent + gateway.readStats.shared;

describe('identical in-flight reads', () => {
  it('are sent once for one user, and every request gets the full answer', async () => {
    const before = reads();
    const shared = gateway.readStats.shared;
    const pending = [query('alice', 'a'), query('alice', 'a'), query('alice', 'a')];
    await until(() => reads() - before === 3 && calls.length === 1);
    gate.release();
    const answers = await Promise.all(pending);
    expect(calls).toEqual([{ field: 'viewer', userId: 'alice' }]);
    expect(gateway.readStats.shared - shared).toBe(2);
    for (const answer of answers) expect(answer.body).toEqual({ data: { viewer: { tag: 'a', userId: 'alice', served: served } } });
  });

  it('are never shared across users: each user gets their own answer from their own fetch', async () => {
    const before = reads();
    const shared = gateway.readStats.shared;
    const pending = [query('alice', 'x'), query('bob', 'x'), query('alice', 'x'), query('bob', 'x')];
    // Shared across users, the subgraph would see one request, not two, and this would time out.
    await until(() => reads() - before === 4 && calls.length === 2);
    gate.release();
    const [a1, b1, a2, b2] = await Promise.all(pending);
    expect(calls.map((c) => c.userId).sort()).toEqual(['alice', 'bob']);
    expect(gateway.readStats.shared - shared).toBe(2);
    expect(a1!.body.data.viewer.userId).toBe('alice');
    expect(a2!.body.data.viewer).toEqual(a1!.body.data.viewer);
    expect(b1!.body.data.viewer.userId).toBe('bob');
    expect(b2!.body.data.viewer).toEqual(b1!.body.data.viewer);
    expect(a1!.body.data.viewer.served).not.toBe(b1!.body.data.viewer.served);
  });

  it("never joins a read that started before the same user's write returned", async () => {
    const before = reads();
    const first = query('alice', 'w');
    await until(() => calls.length === 1);
    expect((await mutate('alice', 'free')).body).toEqual({ data: { touch: expect.any(Number) } });
    const second = query('alice', 'w');
    // The second read is sent, not joined: the subgraph sees it.
    await until(() => calls.filter((c) => c.field === 'viewer').length === 2);
    expect(reads() - before).toBe(2);
    gate.release();
    const [a, b] = await Promise.all([first, second]);
    expect(b.body.data.viewer.served).not.toBe(a.body.data.viewer.served);
  });

  it('never shares mutations', async () => {
    const pending = [mutate('alice', 'held'), mutate('alice', 'held')];
    await until(() => calls.length === 2);
    gate.release();
    const [a, b] = await Promise.all(pending);
    expect(a!.body.data.touch).not.toBe(b!.body.data.touch);
  });
});

describe('subgraph timeout', () => {
  it("answers UPSTREAM_TIMEOUT for the slow subgraph's fields and keeps the rest of the result", async () => {
    gate.release();
    const started = Date.now();
    const res = await postGraphQL(
      gateway.url,
      { query: '{ viewer(tag: "t") { tag userId slow } }' },
      { authorization: `Bearer ${tokens.alice}` },
    );
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(res.body.data).toEqual({ viewer: { tag: 't', userId: 'alice', slow: null } });
    expect(res.body.errors).toHaveLength(1);
    expect(res.body.errors[0].extensions.code).toBe('UPSTREAM_TIMEOUT');
    expect(JSON.stringify(res.body.errors)).not.toMatch(/127\.0\.0\.1|http:/);
  });
});
