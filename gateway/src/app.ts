import type { Server } from 'node:http';
import { resolve } from 'node:path';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import {
  createLogger,
  createMetrics,
  InternalTokenSigner,
  type Logger,
  type Metrics,
  type ReadinessCheck,
  startHttpService,
} from '@taskgraph/runtime';
import type { GraphQLSchema } from 'graphql';
import { type Authenticate, createAuthenticator, unauthenticatedError } from './auth.js';
import { type GatewayConfig, repoRoot } from './config.js';
import { devRoutes } from './dev-routes.js';
import { gatewayErrorFormatter } from './error-format.js';
import { noSubscriptionsOverHttpRule, operationResolutionPlugin } from './http-operations.js';
import { InFlightReads } from './in-flight-reads.js';
import { queryLimitsRule } from './limits.js';
import { refusalCounter } from './protection/metrics.js';
import { DEFAULT_PROTECTION, type ProtectionOptions } from './protection/options.js';
import { protectionPlugin } from './protection/plugin.js';
import { UserLimiter } from './protection/user-limiter.js';
import { createSubgraphHttpClient, type GatewayContext, SubgraphDataSource } from './subgraph-data-source.js';
import type { SubgraphAnswer } from './subgraph-http.js';
import { attachSubscriptions, type SubscriptionServer } from './subscriptions/index.js';
import { fairnessPolicy } from './subscriptions/policies/fairness.js';
import { trustedDocumentsPolicy } from './subscriptions/policies/trusted-documents.js';
import { supergraphFor } from './supergraph.js';
import { checkTrustedRequest, DEFAULT_TRUSTED_DOCUMENTS_PATH, loadTrustedDocumentsIfPresent, manifestCache } from './trusted-documents.js';

export * from './auth.js';
export * from './compose.js';
export * from './config.js';
export * from './error-format.js';
export * from './limits.js';
export * from './protection/index.js';
export * from './subgraph-data-source.js';
export * from './subscriptions/index.js';
export * from './trusted-documents.js';

/** The schema the gateway currently serves; replaced when a live supergraph changes. */
export interface GatewaySchema {
  /** The client-facing API schema. */
  readonly apiSchema: GraphQLSchema;
  /** The composed supergraph SDL (input for a `QueryPlanner`, e.g. for federated subscriptions). */
  readonly supergraphSdl: string;
}

/** A running gateway. `server` is the node HTTP server, so a graphql-ws server can share the port. */
export interface Gateway {
  /** GraphQL endpoint, `http://<host>:<port>/graphql`. */
  readonly url: string;
  readonly port: number;
  /** Where `/healthz`, `/readyz` and `/metrics` are served: the admin listener (`config.adminPort`), else the public base URL. */
  readonly adminUrl: string;
  readonly server: Server;
  readonly config: GatewayConfig;
  readonly apollo: ApolloServer<GatewayContext>;
  /** Verifies a client `Authorization` value; reuse it for graphql-ws `connection_init`. */
  readonly authenticate: Authenticate;
  /** Demand control and per-user fairness in force (defaults merged with `config.protection`). */
  readonly protection: Readonly<ProtectionOptions>;
  /** Per-user rate and concurrency state, shared by HTTP and WebSocket. */
  readonly limiter: UserLimiter;
  /** Signs the internal tokens sent to subgraphs. */
  readonly signer: InternalTokenSigner;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** The schema in use now. */
  schema(): GatewaySchema;
  /** Called with the current schema now and on every later change; returns an unsubscribe function. */
  onSchemaChange(listener: (schema: GatewaySchema) => void): () => void;
  /** Subgraph reads sent upstream and reads answered by joining an identical one of the same user in flight. */
  readonly readStats: { readonly sent: number; readonly shared: number };
  /** The data source per subgraph name (internal token + keep-alive HTTP), for fetches outside Apollo's executor. */
  dataSources(): ReadonlyMap<string, SubgraphDataSource>;
  /**
   * Registers work to run first on `close()` (e.g. closing a graphql-ws server attached to
   * `server`, whose upgraded sockets the HTTP server does not drain). Hooks run in reverse order.
   */
  onClose(hook: () => Promise<void>): void;
  /** The graphql-ws endpoint (federated subscriptions) on `server`, same path as HTTP. */
  readonly subscriptions: SubscriptionServer;
  /** Runs the close hooks, stops accepting, drains, stops the gateway and closes pooled subgraph connections. */
  close(): Promise<void>;
}

/**
 * Starts the federated gateway (ARCHITECTURE §6, §7): verifies the client JWT, calls subgraphs with an
 * internal token, enforces query limits before planning, and serves `/graphql`, `/healthz`,
 * `/readyz` (every subgraph reachable) and `/metrics`.
 */
export async function createGateway(config: GatewayConfig): Promise<Gateway> {
  const logger = createLogger('gateway', config.logLevel);
  const metrics = createMetrics('gateway');
  const development = config.nodeEnv === 'development';
  const formatError = gatewayErrorFormatter(config.nodeEnv);
  // Trusted documents: configured, else (outside production) the committed manifest in allow mode.
  const trusted =
    config.trustedDocuments ??
    (config.nodeEnv === 'production'
      ? undefined
      : loadTrustedDocumentsIfPresent(resolve(repoRoot(), DEFAULT_TRUSTED_DOCUMENTS_PATH), false));
  const authenticate = createAuthenticator(config.jwt);
  const signer = new InternalTokenSigner(config.internalTokenSecret);
  const http = createSubgraphHttpClient(config.subgraphTimeoutMs);
  const reads = new InFlightReads<SubgraphAnswer>();
  const dataSources = new Map<string, SubgraphDataSource>();
  const protection: ProtectionOptions = { ...DEFAULT_PROTECTION, reportCost: development, ...config.protection };
  const limiter = new UserLimiter(protection);
  const refusals = refusalCounter(metrics);

  const apolloGateway = new ApolloGateway({
    supergraphSdl: supergraphFor(config),
    logger,
    // Static supergraph: the configured URL wins over the composed `join__graph` url, by name.
    buildService: ({ name, url }) => {
      const source = new SubgraphDataSource({ name, url: config.subgraphs[name] ?? url ?? '', signer, http, reads, logger });
      dataSources.set(name, source);
      return source;
    },
  });

  let current: GatewaySchema | undefined;
  const listeners = new Set<(schema: GatewaySchema) => void>();
  apolloGateway.onSchemaLoadOrUpdate(({ apiSchema, coreSupergraphSdl }) => {
    current = { apiSchema, supergraphSdl: coreSupergraphSdl };
    for (const listener of listeners) listener(current);
  });

  const apollo = new ApolloServer<GatewayContext>({
    gateway: apolloGateway,
    logger,
    formatError,
    includeStacktraceInErrorResponses: false,
    introspection: development,
    validationRules: [queryLimitsRule(config.limits), noSubscriptionsOverHttpRule],
    allowBatchedHttpRequests: false,
    // Shutdown is `closeOnSignals`'s (hooks, HTTP drain, then Apollo); Apollo's own SIGTERM handler would
    // re-send the signal, which closeOnSignals takes for a second one and exits 1 mid-drain.
    stopOnTerminationSignals: false,
    // Persisted queries resolve from the manifest only (no client registration, ARCHITECTURE §7).
    persistedQueries: { cache: manifestCache(trusted), ttl: null },
    plugins: [
      operationResolutionPlugin,
      protectionPlugin(protection, limiter, refusals),
      development ? ApolloServerPluginLandingPageLocalDefault({ footer: false }) : ApolloServerPluginLandingPageDisabled(),
    ],
  });
  try {
    await apollo.start();
  } catch (error) {
    await http.close();
    throw error;
  }

  const readiness: ReadinessCheck[] = [
    { name: 'supergraph', check: async () => ({ ok: current !== undefined }) },
    {
      name: 'subgraphs',
      check: async () => {
        const results = await Promise.all(
          [...dataSources.values()].map(async (source) => [source.name, await isReachable(source.url)] as const),
        );
        return { ok: results.every(([, ok]) => ok), detail: Object.fromEntries(results) };
      },
    },
  ];

  let service: Awaited<ReturnType<typeof startHttpService<GatewayContext>>>;
  try {
    service = await startHttpService<GatewayContext>({
      name: 'gateway',
      host: config.host,
      port: config.port,
      adminPort: config.adminPort,
      logger,
      metrics,
      readiness,
      maxBodyBytes: config.limits.maxBodyBytes,
      // `/dev/token` and the `/app` web page, outside production only.
      routes: devRoutes(config),
      graphql: {
        server: apollo,
        context: async (req, request) => {
          let userId: string;
          try {
            ({ userId } = await authenticate(req.headers.authorization));
          } catch (error) {
            throw unauthenticatedError(error);
          }
          // Trusted documents (enforce mode): unregistered operations stop here, before Apollo parses them.
          checkTrustedRequest(trusted, request);
          return { userId };
        },
      },
    });
  } catch (error) {
    await apollo.stop();
    await http.close();
    throw error;
  }

  const closeHooks: (() => Promise<void>)[] = [];
  const gateway: Omit<Gateway, 'subscriptions'> = {
    url: `${service.url}/graphql`,
    port: service.port,
    adminUrl: service.adminUrl,
    server: service.server,
    config,
    apollo,
    authenticate,
    protection,
    limiter,
    signer,
    logger,
    metrics,
    schema: () => {
      if (!current) throw new Error('gateway schema not loaded');
      return current;
    },
    onSchemaChange(listener) {
      listeners.add(listener);
      if (current) listener(current);
      return () => listeners.delete(listener);
    },
    readStats: reads.stats,
    dataSources: () => dataSources,
    onClose(hook) {
      closeHooks.unshift(hook);
    },
    async close() {
      for (const hook of closeHooks) await hook();
      await service.close();
      await apollo.stop();
      await http.close();
    },
  };
  // Federated subscriptions over graphql-ws on the same port (gateway/src/subscriptions).
  const subscriptions = attachSubscriptions(
    {
      ...gateway,
      formatError,
      validationRules: [queryLimitsRule(config.limits)],
      // The trusted-documents policy first: it puts a persisted operation's text into the payload.
      policies: [
        trustedDocumentsPolicy(trusted),
        fairnessPolicy({
          limiter,
          schema: () => current?.apiSchema,
          model: protection.model,
          maxEventCost: protection.maxSubscriptionEventCost,
          refusals,
        }),
      ],
    },
    { maxPayloadBytes: config.limits.maxBodyBytes, ...config.subscriptions },
  );
  gateway.onClose(() => subscriptions.close());
  return { ...gateway, subscriptions };
}

/** A subgraph is reachable when its `/healthz` (same origin as its GraphQL endpoint) answers 2xx. */
async function isReachable(graphqlUrl: string): Promise<boolean> {
  try {
    const res = await fetch(new URL('/healthz', graphqlUrl), { signal: AbortSignal.timeout(2_000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}
