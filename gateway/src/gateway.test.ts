import { freePort, INTERNAL_TOKEN_HEADER, signInternalToken } from '@taskgraph/runtime';
import { testGatewayConfig } from '@taskgraph/testing';
import { createGateway, type Gateway } from './app.js';
import { signDevToken } from './auth.js';
import { composeSupergraph } from './compose.js';
import { DEFAULT_JWT_AUDIENCE, DEFAULT_JWT_ISSUER, DEV_JWT_SECRET } from './config.js';
import { type FixtureSubgraph, postGraphQL, startFixtureSubgraph } from './fixtures/subgraphs.js';

const jwt = { secret: DEV_JWT_SECRET, issuer: DEFAULT_JWT_ISSUER, audience: DEFAULT_JWT_AUDIENCE };
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

let notes: FixtureSubgraph;
let extras: FixtureSubgraph;
let gateway: Gateway;
let alice: string;

beforeAll(async () => {
  // `notes` leaks internals in its errors on purpose: the gateway must mask them.
  notes = await startFixtureSubgraph('notes', { leakErrors: true });
  extras = await startFixtureSubgraph('extras');
  // Composed with unreachable URLs: queries only work if the configured URLs override them.
  const sdl = composeSupergraph([
    { name: 'notes', url: 'http://127.0.0.1:9/graphql', sdl: notes.sdl },
    { name: 'extras', url: 'http://127.0.0.1:9/graphql', sdl: extras.sdl },
  ]);
  gateway = await createGateway(testGatewayConfig({ kind: 'sdl', sdl }, { notes: notes.url, extras: extras.url }));
  alice = await signDevToken('alice', jwt);
});

afterAll(async () => {
  await gateway?.close();
  await notes?.close();
  await extras?.close();
});

const asAlice = (query: string) => postGraphQL(gateway.url, { query }, { authorization: `Bearer ${alice}` });
const totalCalls = () => notes.log.calls + extras.log.calls;

describe('authentication', () => {
  it('runs a federated query for a valid token, with an internal token and without the client JWT upstream', async () => {
    notes.log.requests.length = 0;
    extras.log.requests.length = 0;
    const res = await asAlice('{ me notes { id text length } }');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: {
        me: 'alice',
        notes: [
          { id: '1', text: 'note 1', length: 6 },
          { id: '2', text: 'note 2', length: 6 },
        ],
      },
    });
    expect(notes.log.requests).toEqual([{ userId: 'alice', authorization: undefined }]);
    expect(extras.log.requests).toEqual([{ userId: 'alice', authorization: undefined }]);
  });

  it('uses the configured subgraph URLs over the supergraph join__graph urls', () => {
    expect(gateway.dataSources().get('notes')?.url).toBe(notes.url);
    expect(gateway.dataSources().get('extras')?.url).toBe(extras.url);
  });

  const now = Math.floor(Date.now() / 1000);
  const bad: [string, () => Promise<Record<string, string>>][] = [
    ['no Authorization header', async () => ({})],
    ['a non-Bearer scheme', async () => ({ authorization: `Basic ${Buffer.from('alice:pw').toString('base64')}` })],
    ['a malformed token', async () => ({ authorization: 'Bearer not.a.jwt' })],
    ['a wrong signature', async () => ({ authorization: `Bearer ${await signDevToken('alice', { ...jwt, secret: 'x'.repeat(40) })}` })],
    [
      'alg none',
      async () => ({
        authorization: `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'alice', iss: jwt.issuer, aud: jwt.audience, exp: now + 600 })}.`,
      }),
    ],
    ['an expired token', async () => ({ authorization: `Bearer ${await signDevToken('alice', { ...jwt, ttlSeconds: -60 })}` })],
    ['a wrong audience', async () => ({ authorization: `Bearer ${await signDevToken('alice', { ...jwt, audience: 'someone-else' })}` })],
    ['a wrong issuer', async () => ({ authorization: `Bearer ${await signDevToken('alice', { ...jwt, issuer: 'evil' })}` })],
    [
      'an internal token presented as a client token',
      async () => ({ authorization: `Bearer ${await signInternalToken('alice', DEV_JWT_SECRET)}` }),
    ],
  ];
  it.each(bad)('rejects %s with UNAUTHENTICATED and calls no subgraph', async (_case, headers) => {
    const before = totalCalls();
    const res = await postGraphQL(gateway.url, { query: '{ me notes { id } }' }, await headers());
    expect(res.status).toBe(401);
    expect(res.body.data).toBeUndefined();
    expect(res.body.errors).toHaveLength(1);
    expect(res.body.errors[0].extensions).toEqual({ code: 'UNAUTHENTICATED' });
    expect(totalCalls()).toBe(before);
  });

  it('says why an expired token is refused', async () => {
    const res = await postGraphQL(
      gateway.url,
      { query: '{ me }' },
      { authorization: `Bearer ${await signDevToken('alice', { ...jwt, ttlSeconds: -60 })}` },
    );
    expect(res.body.errors[0].message).toBe('Token expired');
  });
});

describe('subgraphs cannot be bypassed', () => {
  const direct: [string, () => Promise<Record<string, string>>][] = [
    ['no internal token', async () => ({})],
    ['only the client JWT', async () => ({ authorization: `Bearer ${alice}` })],
    [
      'an internal token signed with another secret',
      async () => ({ [INTERNAL_TOKEN_HEADER]: await signInternalToken('alice', 'y'.repeat(48)) }),
    ],
  ];
  it.each(direct)('a direct call with %s is UNAUTHENTICATED', async (_case, headers) => {
    const before = notes.log.calls;
    const res = await postGraphQL(notes.url, { query: '{ me }' }, await headers());
    expect(res.status).toBe(401);
    expect(res.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(notes.log.calls).toBe(before);
  });
});

describe('limits (checked before planning: nothing executes)', () => {
  const nested = (depth: number) => {
    // `notes` is depth 1, each `child` adds one, `id` adds one.
    let inner = 'id';
    for (let i = 0; i < depth - 2; i++) inner = `child { ${inner} }`;
    return `{ notes { ${inner} } }`;
  };
  const aliased = (count: number) => `{ ${Array.from({ length: count }, (_, i) => `a${i}: me`).join(' ')} }`;
  const fragmentBomb = (levels: number) => {
    const defs = ['fragment F0 on Note { id text owner }'];
    for (let i = 1; i <= levels; i++) defs.push(`fragment F${i} on Note { ...F${i - 1} ...F${i - 1} }`);
    return `{ notes { ...F${levels} } } ${defs.join(' ')}`;
  };

  it('accepts a query exactly at the depth and alias limits', async () => {
    const deep = await asAlice(nested(12));
    expect(deep.body.errors).toBeUndefined();
    expect(deep.body.data.notes).toHaveLength(2);
    const aliases = await asAlice(aliased(30));
    expect(aliases.body.errors).toBeUndefined();
    expect(aliases.body.data.a29).toBe('alice');
  });

  it.each([
    ['depth', nested(13), { limit: 'depth', max: 12, actual: 13 }],
    ['aliases', aliased(31), { limit: 'aliases', max: 30, actual: 31 }],
    ['fields', fragmentBomb(8), { limit: 'fields', max: 500, actual: 1 + 3 * 256 }],
  ])('refuses a query over the %s limit with a coded error', async (_limit, query, details) => {
    const before = totalCalls();
    const res = await asAlice(query);
    expect(res.status).toBe(400);
    expect(res.body.data).toBeUndefined();
    expect(res.body.errors).toHaveLength(1);
    expect(res.body.errors[0].extensions).toEqual({ code: 'BAD_USER_INPUT', ...details });
    expect(totalCalls()).toBe(before);
  });

  it('refuses a body over 100 KB with 413 BAD_REQUEST', async () => {
    const before = totalCalls();
    const query = `{ me ${' '.repeat(101 * 1024)} }`;
    const res = await asAlice(query);
    expect(res.status).toBe(413);
    expect(res.body.errors[0].extensions.code).toBe('BAD_REQUEST');
    expect(totalCalls()).toBe(before);
  });

  it('disables introspection outside development', async () => {
    const res = await asAlice('{ __schema { queryType { name } } }');
    expect(res.status).toBe(400);
    expect(res.body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(res.body.errors[0].message).toMatch(/introspection/i);
  });
});

describe('errors', () => {
  it('masks internal errors from a subgraph', async () => {
    const res = await asAlice('{ boom }');
    expect(res.body.data).toEqual({ boom: null });
    expect(res.body.errors).toEqual([{ message: 'Internal server error', path: ['boom'], extensions: { code: 'INTERNAL_SERVER_ERROR' } }]);
    expect(JSON.stringify(res.body)).not.toMatch(/secret_table|stacktrace|db\.ts/);
  });

  it('keeps parse errors coded and readable', async () => {
    const res = await asAlice('{ me ');
    expect(res.status).toBe(400);
    expect(res.body.errors[0].extensions.code).toBe('GRAPHQL_PARSE_FAILED');
  });

  it('reports an unreachable subgraph as UNAVAILABLE without leaking its address, and /readyz fails', async () => {
    const deadPort = await freePort();
    const sdl = composeSupergraph([
      { name: 'notes', url: notes.url, sdl: notes.sdl },
      { name: 'extras', url: 'http://127.0.0.1:9/graphql', sdl: extras.sdl },
    ]);
    const broken = await createGateway(
      testGatewayConfig({ kind: 'sdl', sdl }, { notes: notes.url, extras: `http://127.0.0.1:${deadPort}/graphql` }),
    );
    try {
      const res = await postGraphQL(broken.url, { query: '{ notes { id length } }' }, { authorization: `Bearer ${alice}` });
      expect(res.body.errors[0].extensions.code).toBe('UNAVAILABLE');
      expect(res.body.errors[0].message).toBe('Service "extras" is unavailable');
      expect(JSON.stringify(res.body)).not.toContain(String(deadPort));
      const ready = await fetch(new URL('/readyz', broken.url));
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ ok: false, checks: { subgraphs: { ok: false, detail: { notes: true, extras: false } } } });
    } finally {
      await broken.close();
    }
  });
});

describe('subgraph timeouts', () => {
  it('aborts a subgraph that does not answer and reports UPSTREAM_TIMEOUT', async () => {
    const { createServer } = await import('node:http');
    const hanging = createServer(() => {});
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    const port = (hanging.address() as { port: number }).port;
    const sdl = gateway.schema().supergraphSdl;
    const slow = await createGateway(
      testGatewayConfig({ kind: 'sdl', sdl }, { notes: notes.url, extras: `http://127.0.0.1:${port}/graphql` }, { subgraphTimeoutMs: 200 }),
    );
    try {
      const started = Date.now();
      const res = await postGraphQL(slow.url, { query: '{ notes { id length } }' }, { authorization: `Bearer ${alice}` });
      expect(res.body.errors[0].extensions.code).toBe('UPSTREAM_TIMEOUT');
      expect(JSON.stringify(res.body)).not.toContain(String(port));
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await slow.close();
      hanging.closeAllConnections();
      hanging.close();
    }
  });
});

describe('operations', () => {
  it('serves /healthz, /readyz (all subgraphs reachable) and /metrics', async () => {
    const health = await fetch(new URL('/healthz', gateway.url));
    expect(health.status).toBe(200);
    const ready = await fetch(new URL('/readyz', gateway.url));
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      ok: true,
      checks: { supergraph: { ok: true }, subgraphs: { ok: true, detail: { notes: true, extras: true } } },
    });
    const metrics = await (await fetch(new URL('/metrics', gateway.url))).text();
    expect(metrics).toMatch(/http_request_duration_seconds_count\{service="gateway",route="\/graphql",method="POST",status="200"\} [1-9]/);
  });

  it('reuses keep-alive connections to subgraphs', async () => {
    const before = notes.log.connections;
    for (let i = 0; i < 20; i++) {
      const res = await asAlice('{ me }');
      expect(res.body.data.me).toBe('alice');
    }
    expect(notes.log.connections - before).toBeLessThanOrEqual(1);
  });

  it('exposes the schema and supergraph for the subscription server', () => {
    const { apiSchema, supergraphSdl } = gateway.schema();
    expect(apiSchema.getQueryType()?.getFields()).toHaveProperty('notes');
    expect(supergraphSdl).toContain('join__Graph');
    let seen = 0;
    const off = gateway.onSchemaChange(() => {
      seen++;
    });
    off();
    expect(seen).toBe(1);
  });

  it('runs close hooks before closing the HTTP server, last registered first', async () => {
    const other = await createGateway(
      testGatewayConfig({ kind: 'sdl', sdl: gateway.schema().supergraphSdl }, { notes: notes.url, extras: extras.url }),
    );
    const closed: string[] = [];
    other.onClose(async () => {
      closed.push('first registered');
    });
    other.onClose(async () => {
      closed.push(`last registered, listening: ${other.server.listening}`);
    });
    await other.close();
    expect(closed).toEqual(['last registered, listening: true', 'first registered']);
    expect(other.server.listening).toBe(false);
  });
});
