import { testGatewayConfig } from '@taskgraph/testing';
import { createGateway, type Gateway } from './app.js';
import { signDevToken } from './auth.js';
import { composeSupergraph } from './compose.js';
import { DEFAULT_JWT_AUDIENCE, DEFAULT_JWT_ISSUER, DEV_JWT_SECRET } from './config.js';
import { type FixtureSubgraph, postGraphQL, startFixtureSubgraph } from './fixtures/subgraphs.js';

/**
 * Issue 19: in production `/metrics` answered 200 without a token on the public port, which the Ingress
 * routed. Now a production gateway serves health and metrics only on its admin listener.
 */
let notes: FixtureSubgraph;
let gateway: Gateway;
let token: string;

beforeAll(async () => {
  notes = await startFixtureSubgraph('notes');
  const sdl = composeSupergraph([{ name: 'notes', url: notes.url, sdl: notes.sdl }]);
  // What loadGatewayConfig gives with NODE_ENV=production and PORT=0: an admin listener on a free port.
  gateway = await createGateway(testGatewayConfig({ kind: 'sdl', sdl }, { notes: notes.url }, { nodeEnv: 'production', adminPort: 0 }));
  token = await signDevToken('alice', { secret: DEV_JWT_SECRET, issuer: DEFAULT_JWT_ISSUER, audience: DEFAULT_JWT_AUDIENCE });
});

afterAll(async () => {
  await gateway?.close();
  await notes?.close();
});

const publicBase = () => gateway.url.replace(/\/graphql$/, '');

describe('production gateway: health and metrics off the public port', () => {
  it.each(['/metrics', '/healthz', '/readyz'])('public %s is 404, with or without a token', async (path) => {
    for (const headers of [{}, { authorization: `Bearer ${token}` }] as Record<string, string>[]) {
      const response = await fetch(`${publicBase()}${path}`, { headers });
      expect(response.status).toBe(404);
      expect(await response.text()).not.toMatch(/http_request|subgraphs|gateway/);
    }
  });

  it('the admin listener serves them; GraphQL and the Dapr liveness path stay public', async () => {
    expect(gateway.adminUrl).not.toBe(publicBase());
    const metrics = await fetch(`${gateway.adminUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('http_request_duration_seconds');
    const ready = await fetch(`${gateway.adminUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ service: 'gateway', ok: true });
    expect((await fetch(`${gateway.adminUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${gateway.adminUrl}/graphql`)).status).toBe(404);

    const query = await postGraphQL(gateway.url, { query: '{ notes { id } }' }, { authorization: `Bearer ${token}` });
    expect(query.status).toBe(200);
    expect(query.body.errors).toBeUndefined();
    expect(await (await fetch(`${publicBase()}/dapr/healthz`)).json()).toEqual({ ok: true });
  });
});
