import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, createMetrics, type HttpService, startHttpService } from '@taskgraph/runtime';
import { testGatewayConfig } from '@taskgraph/testing';
import { createAuthenticator } from './auth.js';
import type { GatewayConfig } from './config.js';
import { devRoutes } from './dev-routes.js';

const webRoot = mkdtempSync(join(tmpdir(), 'taskgraph-web-'));
const services: HttpService[] = [];

beforeAll(() => {
  writeFileSync(join(webRoot, 'index.html'), '<!doctype html><title>taskgraph</title>');
  mkdirSync(join(webRoot, 'assets'));
  writeFileSync(join(webRoot, 'assets', 'app.js'), 'console.log(1);');
  writeFileSync(join(webRoot, '..', 'secret.txt'), 'outside');
});

afterAll(async () => {
  for (const service of services) await service.close();
  rmSync(webRoot, { recursive: true, force: true });
  rmSync(join(webRoot, '..', 'secret.txt'), { force: true });
});

async function serve(config: GatewayConfig): Promise<string> {
  const service = await startHttpService({
    name: 'dev-routes-test',
    host: '127.0.0.1',
    port: 0,
    logger: createLogger('dev-routes-test', 'silent'),
    metrics: createMetrics(`dev_routes_test_${services.length}`),
    readiness: [],
    routes: devRoutes(config, webRoot),
  });
  services.push(service);
  return service.url;
}

const config = (overrides: Partial<GatewayConfig> = {}) => testGatewayConfig({ kind: 'sdl', sdl: '' }, {}, overrides);

describe('dev token endpoint', () => {
  it('signs a token the gateway accepts for the named user', async () => {
    const base = await serve(config({ nodeEnv: 'development' }));
    const res = await fetch(`${base}/dev/token?user=alice`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as { token: string; userId: string; expiresAt: string };
    expect(body.userId).toBe('alice');
    expect(Date.parse(body.expiresAt)).toBeGreaterThan(Date.now());
    await expect(createAuthenticator(config().jwt)(`Bearer ${body.token}`)).resolves.toEqual({ userId: 'alice' });
  });

  it('refuses a missing or malformed user', async () => {
    const base = await serve(config());
    expect((await fetch(`${base}/dev/token`)).status).toBe(400);
    expect((await fetch(`${base}/dev/token?user=${encodeURIComponent('a b')}`)).status).toBe(400);
  });

  it('does not exist in production, nor when tokens are verified with a JWKS', async () => {
    const production = await serve(config({ nodeEnv: 'production' }));
    expect((await fetch(`${production}/dev/token?user=alice`)).status).toBe(404);
    expect((await fetch(`${production}/app/`)).status).toBe(404);
    const jwks = await serve(config({ jwt: { jwksUrl: 'https://idp.invalid/jwks', issuer: 'x', audience: 'y' } }));
    expect((await fetch(`${jwks}/dev/token?user=alice`)).status).toBe(404);
  });
});

describe('web page', () => {
  it('serves index.html and assets with their content types', async () => {
    const base = await serve(config());
    const redirect = await fetch(`${base}/app`, { redirect: 'manual' });
    expect(redirect.status).toBe(308);
    expect(redirect.headers.get('location')).toBe('/app/');
    const index = await fetch(`${base}/app/`);
    expect(index.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await index.text()).toContain('<title>taskgraph</title>');
    const script = await fetch(`${base}/app/assets/app.js`);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await script.text()).toBe('console.log(1);');
  });

  it('never serves files outside the web root', async () => {
    const base = await serve(config());
    expect((await fetch(`${base}/app/..%2Fsecret.txt`)).status).toBe(404);
    expect((await fetch(`${base}/app/assets`)).status).toBe(404);
    expect((await fetch(`${base}/app/missing.js`)).status).toBe(404);
  });
});
