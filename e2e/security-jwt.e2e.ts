/**
 * Security 7: client JWTs. Wrong signature, `alg: none`, other HMAC algorithms, expired, not yet
 * valid, without `exp`, a lifetime above the maximum, wrong audience or issuer, no subject, malformed headers: all rejected over HTTP (401
 * UNAUTHENTICATED, no data) and over graphql-ws (`connection_init` closed 4403, nothing executed).
 * A token that expires during a WebSocket connection ends it.
 */
import { DEV_JWT_SECRET } from '@taskgraph/gateway';
import { type RunningSystem, startSystem } from '@taskgraph/testing';
import { AttackLedger, collect, rawGraphqlWs, signJwt, unsignedJwt, wsClient } from './support/attack.js';
import { waitFor } from './support/cluster.js';
import { Figures } from './support/figures.js';

const figures = new Figures('security-jwt');
const SECRET_TITLE = `jwt-secret-${Date.now()}`;
const ledger = new AttackLedger(SECRET_TITLE);
let system: RunningSystem;

beforeAll(async () => {
  system = await startSystem({ subgraphs: ['tasks', 'sync'] });
  const res = await system.graphql('mutation($t: String!) { createTask(input: { title: $t }) { id } }', { t: SECRET_TITLE }, 'alice');
  expect(res.errors).toBeUndefined();
});

afterAll(async () => {
  await system?.close();
  figures.set('attempts', ledger.attempts);
  figures.set('leaks', ledger.leaks.length);
  figures.report();
});

const LIST = '{ tasks(first: 10) { edges { node { title } } } }';

async function badAuthorizations(): Promise<[string, string][]> {
  const now = Math.floor(Date.now() / 1000);
  const { issuer, audience } = system.gateway.config.jwt;
  const claims = { sub: 'alice', iss: issuer, aud: audience, iat: now, exp: now + 600 };
  return [
    ['wrong signature', `Bearer ${await signJwt(claims, 'x'.repeat(48))}`],
    ['alg none', `Bearer ${unsignedJwt(claims)}`],
    ['alg none, signature kept', `Bearer ${unsignedJwt(claims)}${(await signJwt(claims, DEV_JWT_SECRET)).split('.')[2]}`],
    ['HS512 with the right secret', `Bearer ${await signJwt(claims, DEV_JWT_SECRET, 'HS512')}`],
    ['expired', `Bearer ${await system.tokenFor('alice', { ttlSeconds: -60 })}`],
    ['not yet valid', `Bearer ${await signJwt({ ...claims, nbf: now + 600 }, DEV_JWT_SECRET)}`],
    ['wrong audience', `Bearer ${await system.tokenFor('alice', { audience: 'someone-else' })}`],
    ['wrong issuer', `Bearer ${await system.tokenFor('alice', { issuer: 'evil' })}`],
    // Issue 14: a token without exp would never expire; a lifetime above the maximum (24 h) is refused too.
    ['no exp', `Bearer ${await signJwt({ sub: 'alice', iss: issuer, aud: audience, iat: now }, DEV_JWT_SECRET)}`],
    ['no exp, no iat', `Bearer ${await signJwt({ sub: 'alice', iss: issuer, aud: audience }, DEV_JWT_SECRET)}`],
    ['lifetime of 30 days', `Bearer ${await signJwt({ ...claims, exp: now + 30 * 86_400 }, DEV_JWT_SECRET)}`],
    [
      'no iat, expires in 2 days',
      `Bearer ${await signJwt({ sub: 'alice', iss: issuer, aud: audience, exp: now + 2 * 86_400 }, DEV_JWT_SECRET)}`,
    ],
    ['no subject', `Bearer ${await signJwt({ iss: issuer, aud: audience, iat: now, exp: now + 600 }, DEV_JWT_SECRET)}`],
    ['empty subject', `Bearer ${await signJwt({ ...claims, sub: '' }, DEV_JWT_SECRET)}`],
    ['garbage', 'Bearer not.a.jwt'],
    ['no scheme', await system.tokenFor('alice')],
    ['basic', `Basic ${Buffer.from('alice:password').toString('base64')}`],
    ['empty bearer', 'Bearer '],
  ];
}

it('rejects every bad token over HTTP with 401 UNAUTHENTICATED and no data', async () => {
  for (const [what, authorization] of await badAuthorizations()) {
    const res = await fetch(system.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization },
      body: JSON.stringify({ query: LIST }),
    });
    const body = (await res.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] };
    ledger.check(`http ${what}`, body);
    expect([what, res.status, body.errors?.[0]?.extensions?.code, body.data ?? null]).toEqual([what, 401, 'UNAUTHENTICATED', null]);
  }
  // Control: the right token reads the data (so the checks above can fail).
  const good = await system.graphql<{ tasks: unknown }>(LIST, {}, 'alice');
  expect(JSON.stringify(good.data)).toContain(SECRET_TITLE);
  expect(ledger.leaks).toEqual([]);
});

it('closes graphql-ws connections with bad tokens (4403) before anything runs', async () => {
  const wsUrl = system.gatewayUrl.replace(/^http/, 'ws');
  const subscribe = { id: '1', type: 'subscribe', payload: { query: LIST } };
  const cases: [string, Record<string, unknown>][] = [
    ['no payload', {}],
    ['authorization not a string', { authorization: 42 }],
    ...(await badAuthorizations()).map(([what, authorization]): [string, Record<string, unknown>] => [what, { authorization }]),
  ];
  for (const [what, payload] of cases) {
    const outcome = await rawGraphqlWs(wsUrl, [{ type: 'connection_init', payload }, subscribe]);
    ledger.check(`ws ${what}`, outcome.messages);
    expect([what, outcome.code]).toEqual([what, 4403]);
    expect(outcome.messages.filter((m) => (m as { type?: string }).type === 'next')).toEqual([]);
  }
  const good = await rawGraphqlWs(
    wsUrl,
    [{ type: 'connection_init', payload: { authorization: `Bearer ${await system.tokenFor('alice')}` } }, subscribe],
    {
      waitMs: 20_000,
      until: (messages) => messages.some((m) => (m as { type?: string }).type === 'complete'),
    },
  );
  expect(JSON.stringify(good.messages)).toContain(SECRET_TITLE);
  expect(ledger.leaks).toEqual([]);
});

it('ends a WebSocket connection when its token expires', async () => {
  const { client, closes } = wsClient(system.gatewayUrl, { authorization: `Bearer ${await system.tokenFor('alice', { ttlSeconds: 3 })}` });
  const sub = collect(client, 'subscription { taskUpdates { taskId } }');
  const ended = (await Promise.race([sub.ended, new Promise((r) => setTimeout(() => r('hang'), 15_000))])) as { error?: unknown };
  expect(JSON.stringify(ended.error)).toContain('UNAUTHENTICATED');
  await waitFor('the socket to close', () => closes.length > 0, 5_000);
  expect(closes).toEqual([4403]);
  ledger.attempts++;
  await client.dispose();
}, 30_000);
