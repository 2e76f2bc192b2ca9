import { freePort } from '@taskgraph/runtime';
import { testGatewayConfig } from '@taskgraph/testing';
import { createGateway, type Gateway } from './app.js';
import { signDevToken } from './auth.js';
import { composeSupergraph } from './compose.js';
import { DEFAULT_JWT_AUDIENCE, DEFAULT_JWT_ISSUER, DEV_JWT_SECRET } from './config.js';
import { type FixtureSubgraph, postGraphQL, startFixtureSubgraph } from './fixtures/subgraphs.js';
import { GATEWAY_SYSTEM_USER } from './subgraph-data-source.js';

let notes: FixtureSubgraph;
let extras: FixtureSubgraph;
let token: string;
const gateways: Gateway[] = [];

beforeAll(async () => {
  notes = await startFixtureSubgraph('notes');
  extras = await startFixtureSubgraph('extras');
  token = await signDevToken('alice', { secret: DEV_JWT_SECRET, issuer: DEFAULT_JWT_ISSUER, audience: DEFAULT_JWT_AUDIENCE });
});

afterAll(async () => {
  for (const gateway of gateways) await gateway.close();
  await notes?.close();
  await extras?.close();
});

async function start(nodeEnv: 'development' | 'production', live = false, extrasUrl = extras.url): Promise<Gateway> {
  const urls = { notes: notes.url, extras: extrasUrl };
  const sdl = composeSupergraph([
    { name: 'notes', url: notes.url, sdl: notes.sdl },
    { name: 'extras', url: extras.url, sdl: extras.sdl },
  ]);
  const gateway = await createGateway(testGatewayConfig(live ? { kind: 'live' } : { kind: 'sdl', sdl }, urls, { nodeEnv }));
  gateways.push(gateway);
  return gateway;
}

const introspect = (gateway: Gateway) =>
  postGraphQL(gateway.url, { query: '{ __schema { queryType { name } } }' }, { authorization: `Bearer ${token}` });
const landingPage = (gateway: Gateway) => fetch(gateway.url, { headers: { accept: 'text/html' } });

describe('production', () => {
  it('disables introspection and the landing page', async () => {
    const gateway = await start('production');
    const res = await introspect(gateway);
    expect(res.status).toBe(400);
    expect(res.body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const page = await landingPage(gateway);
    expect(page.headers.get('content-type')).not.toMatch(/text\/html/);
    expect(await page.text()).not.toMatch(/<html/i);
  });

  it('names no subgraph and no internal detail in errors (development does, for debugging)', async () => {
    const deadUrl = `http://127.0.0.1:${await freePort()}/graphql`;
    const query = { query: '{ notes { id length } }' };
    const prod = await postGraphQL((await start('production', false, deadUrl)).url, query, { authorization: `Bearer ${token}` });
    expect(prod.body.errors).toEqual([
      expect.objectContaining({ message: 'Service temporarily unavailable; retry later', extensions: { code: 'UNAVAILABLE' } }),
    ]);
    expect(JSON.stringify(prod.body)).not.toMatch(/extras|serviceName|127\.0\.0\.1/);
    const dev = await postGraphQL((await start('development', false, deadUrl)).url, query, { authorization: `Bearer ${token}` });
    expect(dev.body.errors[0]).toMatchObject({
      message: 'Service "extras" is unavailable',
      extensions: { code: 'UNAVAILABLE', service: 'extras' },
    });
  });
});

describe('development', () => {
  it('enables introspection and the landing page', async () => {
    const gateway = await start('development');
    const res = await introspect(gateway);
    // Development also reports the operation's cost (gateway/src/protection).
    expect(res.body).toEqual({
      data: { __schema: { queryType: { name: 'Query' } } },
      extensions: { cost: { estimated: 0, actual: 0, budget: 25000 } },
    });
    const page = await landingPage(gateway);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
  });

  it('composes live from running subgraphs, introspecting them with an internal token', async () => {
    notes.log.requests.length = 0;
    const gateway = await start('development', true);
    expect(notes.log.requests).toContainEqual({ userId: GATEWAY_SYSTEM_USER, authorization: undefined });
    expect(gateway.schema().supergraphSdl).toContain('join__Graph');
    const res = await postGraphQL(gateway.url, { query: '{ notes { id length } }' }, { authorization: `Bearer ${token}` });
    expect(res.body).toMatchObject({
      data: {
        notes: [
          { id: '1', length: 6 },
          { id: '2', length: 6 },
        ],
      },
    });
  });
});
