import { ConfigError, loadServiceConfig, resolveAdminPort } from './config.js';
import { type HttpService, startHttpService } from './http.js';
import { createLogger } from './logger.js';
import { createMetrics } from './metrics.js';

/**
 * Health and metrics on a separate admin listener (production), never on the public port the Ingress
 * reaches; on the public port in development and tests. `/dapr/healthz` stays public: daprd's app health
 * check can only probe the app port.
 */
const logger = createLogger('admin-test', 'silent');
let ready = true;

async function start(adminPort?: number): Promise<HttpService> {
  return startHttpService({
    name: 'admin-test',
    host: '127.0.0.1',
    port: 0,
    adminPort,
    logger,
    metrics: createMetrics('admin-test'),
    readiness: [{ name: 'db', check: async () => ({ ok: ready, detail: 'lag 0' }) }],
    routes: [{ method: 'GET', path: '/app-route', handle: (_req, res) => void res.writeHead(200).end('app') }],
  });
}

const get = async (base: string, path: string) => {
  const response = await fetch(`${base}${path}`);
  return { status: response.status, text: await response.text() };
};

describe('admin listener', () => {
  const services: HttpService[] = [];
  afterEach(async () => {
    ready = true;
    for (const s of services.splice(0)) await s.close();
  });

  test('without one (development, tests): health, readiness and metrics on the public port', async () => {
    const s = await start();
    services.push(s);
    expect(s.adminUrl).toBe(s.url);
    expect((await get(s.url, '/healthz')).status).toBe(200);
    expect((await get(s.url, '/readyz')).status).toBe(200);
    const metrics = await get(s.url, '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('http_request_duration_seconds');
  });

  test('with one: the public port answers 404 for /healthz, /readyz, /metrics; the admin port serves them and nothing else', async () => {
    const s = await start(0);
    services.push(s);
    expect(s.adminUrl).not.toBe(s.url);
    for (const path of ['/healthz', '/readyz', '/metrics', '/metrics?x=1', '/healthz/']) {
      expect({ path, status: (await get(s.url, path)).status }).toEqual({ path, status: 404 });
    }
    expect(await get(s.url, '/app-route')).toEqual({ status: 200, text: 'app' });
    // daprd's app health check: liveness only, no service name or detail.
    expect(await get(s.url, '/dapr/healthz')).toEqual({ status: 200, text: '{"ok":true}' });

    expect(JSON.parse((await get(s.adminUrl, '/healthz')).text)).toEqual({ ok: true, service: 'admin-test' });
    expect(JSON.parse((await get(s.adminUrl, '/readyz')).text)).toEqual({
      service: 'admin-test',
      ok: true,
      checks: { db: { ok: true, detail: 'lag 0' } },
    });
    ready = false;
    expect((await get(s.adminUrl, '/readyz')).status).toBe(503);
    const metrics = await get(s.adminUrl, '/metrics');
    expect(metrics.status).toBe(200);
    // The public requests above were counted, the admin ones are not.
    expect(metrics.text).toMatch(/http_request_duration_seconds_count\{[^}]*route="\/app-route"/);
    for (const path of ['/app-route', '/graphql', '/dapr/healthz']) {
      expect({ path, status: (await get(s.adminUrl, path)).status }).toEqual({ path, status: 404 });
    }
  });

  test('close() stops both listeners', async () => {
    const s = await start(0);
    await s.close();
    await expect(fetch(`${s.url}/dapr/healthz`)).rejects.toThrow();
    await expect(fetch(`${s.adminUrl}/healthz`)).rejects.toThrow();
  });
});

describe('ADMIN_PORT', () => {
  const production = { NODE_ENV: 'production', INTERNAL_TOKEN_SECRET: 'x'.repeat(32) };

  test('production defaults to PORT + 5000 per service; development keeps health on the public port', () => {
    expect(loadServiceConfig(4001, production).adminPort).toBe(9001);
    expect(loadServiceConfig(4004, { ...production, PORT: '4004' }).adminPort).toBe(9004);
    expect(loadServiceConfig(4001, { ...production, ADMIN_PORT: '9100' }).adminPort).toBe(9100);
    expect(loadServiceConfig(4001, {}).adminPort).toBeUndefined();
    expect(loadServiceConfig(4001, { ADMIN_PORT: '9001' }).adminPort).toBe(9001);
  });

  test('refused when it equals PORT or the default would overflow', () => {
    expect(() => loadServiceConfig(4001, { ...production, ADMIN_PORT: '4001' })).toThrow(ConfigError);
    expect(() => resolveAdminPort('production', 61_000, undefined)).toThrow(/ADMIN_PORT/);
    expect(resolveAdminPort('production', 0, undefined)).toBe(0);
  });
});
