import { readFileSync } from 'node:fs';
import { composeSupergraph, createGateway, type Gateway, type GatewayConfig, signDevToken, subgraphSdlPath } from '@taskgraph/gateway';
import { type ServiceConfig, SUBGRAPH_NAMES, type SubgraphName, testServiceConfig } from '@taskgraph/runtime';
import { createTestDatabase, type TestDatabase } from '@taskgraph/test-kit';
import { testGatewayConfig } from './gateway-config.js';

/** What every subgraph package exports (CONVENTIONS "Service shape"). */
export interface RunningService {
  /** GraphQL endpoint. */
  readonly url: string;
  close(): Promise<void>;
}

interface SubgraphModule {
  createService(config: ServiceConfig): Promise<RunningService>;
}

/** A subgraph `startSystem` can run: its registry name (directory, Dapr app-id) and a lazy import of its package. */
export interface SubgraphEntry {
  readonly name: SubgraphName;
  load(): Promise<SubgraphModule>;
}

/** How to load each registered subgraph's package (a new registry entry without one here fails to compile). */
const LOADERS: Record<SubgraphName, () => Promise<SubgraphModule>> = {
  tasks: () => import('@taskgraph/subgraph-tasks'),
  audit: () => import('@taskgraph/subgraph-audit'),
  notifications: () => import('@taskgraph/subgraph-notifications'),
  sync: () => import('@taskgraph/subgraph-sync'),
};

/** Every subgraph of the system, in the service registry's start order (CONVENTIONS §16). */
export const SUBGRAPHS: readonly SubgraphEntry[] = SUBGRAPH_NAMES.map((name) => ({ name, load: LOADERS[name] }));

export interface StartSystemOptions {
  /** Database to use; default: a fresh test database (dropped on close). */
  databaseUrl?: string;
  /** Fixed ports by service name or `gateway`; default 0 (a free port) for all. */
  ports?: Partial<Record<string, number>>;
  /** Names of the subgraphs to start; default: all of `SUBGRAPHS`. */
  subgraphs?: readonly string[];
  /** Overrides for every subgraph's config (e.g. `nodeEnv`, `logLevel`, `eventBus`, `dapr`). */
  service?: Partial<Omit<ServiceConfig, 'port' | 'databaseUrl'>>;
  /** Per-subgraph overrides on top of `service` (e.g. each subgraph's own Dapr sidecar). */
  serviceFor?: (name: string) => Partial<Omit<ServiceConfig, 'port' | 'databaseUrl'>>;
  /** Overrides for the gateway's config (e.g. `nodeEnv`, `jwt`, `limits`). */
  gateway?: Partial<Omit<GatewayConfig, 'subgraphs' | 'supergraph'>>;
}

export interface TokenOptions {
  /** Lifetime in seconds (default one hour); negative for an expired token. */
  ttlSeconds?: number;
  /** Sign with another secret (a forged token). */
  secret?: string;
  audience?: string;
  issuer?: string;
}

export interface GraphQLResult<TData = Record<string, unknown>> {
  status: number;
  data?: TData | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
}

/** The whole system running in this process. */
export interface RunningSystem {
  /** The gateway's GraphQL endpoint. */
  readonly gatewayUrl: string;
  readonly gateway: Gateway;
  readonly services: Readonly<Record<string, RunningService>>;
  readonly databaseUrl: string;
  /** A client JWT for `userId`, as the gateway's identity provider would issue it. */
  tokenFor(userId: string, options?: TokenOptions): Promise<string>;
  /** Runs an operation through the gateway as `as` (a user id), or anonymously when `as` is omitted. */
  graphql<TData = Record<string, unknown>>(query: string, variables?: Record<string, unknown>, as?: string): Promise<GraphQLResult<TData>>;
  /** Closes the gateway, then the subgraphs, then drops the database it created. */
  close(): Promise<void>;
}

/**
 * Starts every subgraph on its own port (0 by default) against one database, composes the
 * supergraph from their SDL files and starts the real gateway pointed at their real URLs.
 */
export async function startSystem(options: StartSystemOptions = {}): Promise<RunningSystem> {
  const wanted = options.subgraphs ?? SUBGRAPHS.map((s) => s.name);
  const entries = wanted.map((name) => {
    const entry = SUBGRAPHS.find((s) => s.name === name);
    if (!entry) throw new Error(`startSystem: unknown subgraph "${name}" (known: ${SUBGRAPHS.map((s) => s.name).join(', ')})`);
    return entry;
  });

  const testDb: TestDatabase | undefined = options.databaseUrl ? undefined : await createTestDatabase('system');
  const databaseUrl = options.databaseUrl ?? testDb!.url;
  const services: Record<string, RunningService> = {};
  const closeServices = async () => {
    for (const service of Object.values(services).reverse()) await service.close();
  };

  let gateway: Gateway;
  try {
    for (const entry of entries) {
      const config = testServiceConfig(databaseUrl, {
        ...options.service,
        ...options.serviceFor?.(entry.name),
        port: options.ports?.[entry.name] ?? 0,
      });
      const { createService } = await entry.load();
      services[entry.name] = await createService(config);
    }
    const subgraphs = entries.map(({ name }) => ({ name, url: services[name]!.url, sdl: readFileSync(subgraphSdlPath(name), 'utf8') }));
    const urls = Object.fromEntries(subgraphs.map(({ name, url }) => [name, url]));
    gateway = await createGateway(
      testGatewayConfig({ kind: 'sdl', sdl: composeSupergraph(subgraphs) }, urls, {
        // The gateway must sign with the secret the subgraphs verify.
        internalTokenSecret: testServiceConfig(databaseUrl, options.service).internalTokenSecret,
        ...options.gateway,
        port: options.gateway?.port ?? options.ports?.gateway ?? 0,
      }),
    );
  } catch (error) {
    await closeServices().catch(() => {});
    await testDb?.drop().catch(() => {});
    throw error;
  }

  const jwt = gateway.config.jwt;
  const tokenFor = async (userId: string, token: TokenOptions = {}) => {
    const secret = token.secret ?? jwt.secret;
    if (!secret) throw new Error('tokenFor: the gateway verifies with a JWKS URL; pass options.secret');
    return signDevToken(userId, {
      secret,
      issuer: token.issuer ?? jwt.issuer,
      audience: token.audience ?? jwt.audience,
      ...(token.ttlSeconds === undefined ? {} : { ttlSeconds: token.ttlSeconds }),
    });
  };

  return {
    gatewayUrl: gateway.url,
    gateway,
    services,
    databaseUrl,
    tokenFor,
    async graphql<TData>(query: string, variables?: Record<string, unknown>, as?: string): Promise<GraphQLResult<TData>> {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (as !== undefined) headers.authorization = `Bearer ${await tokenFor(as)}`;
      const res = await fetch(gateway.url, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
      const body = (await res.json()) as Omit<GraphQLResult<TData>, 'status'>;
      return { status: res.status, ...body };
    },
    async close() {
      await gateway.close();
      await closeServices();
      await testDb?.drop();
    },
  };
}
