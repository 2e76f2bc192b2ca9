import { resolve } from 'node:path';
import { ConfigError, DEV_INTERNAL_TOKEN_SECRET } from '@taskgraph/runtime';
import { DEV_JWT_SECRET, loadGatewayConfig, repoRoot } from './config.js';

const prodSecrets = {
  NODE_ENV: 'production',
  INTERNAL_TOKEN_SECRET: 'i'.repeat(40),
  JWT_JWKS_URL: 'https://id.example.com/.well-known/jwks.json',
};

const configError = (env: NodeJS.ProcessEnv): ConfigError => {
  try {
    loadGatewayConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
};

describe('loadGatewayConfig', () => {
  it('has working development defaults', () => {
    const config = loadGatewayConfig({});
    expect(config).toMatchObject({
      nodeEnv: 'development',
      host: '127.0.0.1',
      port: 4000,
      jwt: { secret: DEV_JWT_SECRET, issuer: 'taskgraph', audience: 'taskgraph' },
      internalTokenSecret: DEV_INTERNAL_TOKEN_SECRET,
      subgraphs: {
        tasks: 'http://127.0.0.1:4001/graphql',
        audit: 'http://127.0.0.1:4002/graphql',
        notifications: 'http://127.0.0.1:4003/graphql',
        sync: 'http://127.0.0.1:4004/graphql',
      },
      supergraph: { kind: 'file', path: resolve(repoRoot(), 'schema/supergraph.graphql') },
      limits: { maxDepth: 12, maxAliases: 30, maxBodyBytes: 100 * 1024 },
    });
  });

  it('reads overrides', () => {
    const config = loadGatewayConfig({
      PORT: '0',
      JWT_SECRET: 's'.repeat(32),
      JWT_ISSUER: 'https://id.example.com',
      JWT_AUDIENCE: 'api',
      JWT_MAX_LIFETIME_SECONDS: '900',
      SUBGRAPH_TASKS_URL: 'http://tasks.svc:4001/graphql',
      SUPERGRAPH_PATH: '/etc/taskgraph/supergraph.graphql',
    });
    expect(config.port).toBe(0);
    expect(config.jwt).toEqual({ secret: 's'.repeat(32), issuer: 'https://id.example.com', audience: 'api', maxLifetimeSeconds: 900 });
    expect(config.subgraphs.tasks).toBe('http://tasks.svc:4001/graphql');
    expect(config.supergraph).toEqual({ kind: 'file', path: '/etc/taskgraph/supergraph.graphql' });
  });

  it('uses a JWKS URL in production and refuses to start without real secrets', () => {
    expect(loadGatewayConfig(prodSecrets).jwt).toEqual({
      jwksUrl: prodSecrets.JWT_JWKS_URL,
      issuer: 'taskgraph',
      audience: 'taskgraph',
      maxLifetimeSeconds: 86_400,
    });
    const error = configError({ NODE_ENV: 'production' });
    expect(error.issues).toEqual([
      'JWT_JWKS_URL or JWT_SECRET: one is required when NODE_ENV=production',
      'INTERNAL_TOKEN_SECRET: required when NODE_ENV=production',
    ]);
  });

  it('names invalid variables', () => {
    expect(configError({ JWT_SECRET: 'short' }).message).toMatch(/JWT_SECRET: must be at least 32 characters/);
    expect(configError({ SUBGRAPH_AUDIT_URL: 'not a url' }).message).toMatch(/SUBGRAPH_AUDIT_URL/);
    expect(configError({ GATEWAY_COMPOSE: 'sometimes' }).message).toMatch(/GATEWAY_COMPOSE/);
  });

  it('composes live from the listed subgraphs in development only', () => {
    const config = loadGatewayConfig({ GATEWAY_COMPOSE: 'live', GATEWAY_SUBGRAPHS: 'tasks, audit' });
    expect(config.supergraph.kind).toBe('live');
    expect(config.subgraphs).toEqual({ tasks: 'http://127.0.0.1:4001/graphql', audit: 'http://127.0.0.1:4002/graphql' });
    expect(configError({ ...prodSecrets, GATEWAY_COMPOSE: 'live' }).issues).toEqual([
      'GATEWAY_COMPOSE: live composition is for development only',
    ]);
    expect(configError({ GATEWAY_COMPOSE: 'live', GATEWAY_SUBGRAPHS: 'tasks,billing' }).issues).toEqual([
      'GATEWAY_SUBGRAPHS: unknown subgraph "billing"',
    ]);
  });

  it('trusted documents: enforce by default in production once a manifest is configured; allow with the committed one in development', () => {
    const manifest = 'client/src/__generated__/persisted-documents.json';
    expect(loadGatewayConfig(prodSecrets).trustedDocuments).toBeUndefined();
    const prod = loadGatewayConfig({ ...prodSecrets, TRUSTED_DOCUMENTS_MANIFEST: manifest }).trustedDocuments;
    expect(prod?.enforce).toBe(true);
    expect(prod?.manifest.size).toBeGreaterThan(10);
    expect(
      loadGatewayConfig({ ...prodSecrets, TRUSTED_DOCUMENTS_MANIFEST: manifest, TRUSTED_DOCUMENTS: 'allow' }).trustedDocuments?.enforce,
    ).toBe(false);
    const dev = loadGatewayConfig({}).trustedDocuments;
    expect([dev?.enforce, dev?.manifest.size]).toEqual([false, prod?.manifest.size]);
    expect(loadGatewayConfig({ TRUSTED_DOCUMENTS: 'enforce' }).trustedDocuments?.enforce).toBe(true);
    expect(configError({ ...prodSecrets, TRUSTED_DOCUMENTS: 'enforce' }).issues).toEqual([
      'TRUSTED_DOCUMENTS: enforce needs TRUSTED_DOCUMENTS_MANIFEST in production',
    ]);
    expect(configError({ TRUSTED_DOCUMENTS_MANIFEST: '/nonexistent/manifest.json' }).message).toMatch(/TRUSTED_DOCUMENTS_MANIFEST: ENOENT/);
  });
});
