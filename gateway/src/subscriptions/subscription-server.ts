import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ApolloServer } from '@apollo/server';
import { AppError, ErrorCode, type InternalTokenSigner, type Logger, type Metrics } from '@taskgraph/runtime';
import {
  type ExecutionResult,
  type FormattedExecutionResult,
  type GraphQLError,
  type GraphQLFormattedError,
  specifiedRules,
  type ValidationRule,
} from 'graphql';
import type { Context } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Authenticate } from '../auth.js';
import type { GatewayContext, SubgraphDataSource } from '../subgraph-data-source.js';
import { ClientStream, SubscriptionTerminated } from './client-stream.js';
import { authenticateConnection, ConnectionState } from './connection-state.js';
import { EntityBatcher } from './entity-batcher.js';
import type { FormatError } from './event-executor.js';
import { createSubscriptionMetrics, type SubscriptionMetrics } from './metrics.js';
import { executeOverSocket, type OperationRequest, prepareOperation } from './operation-request.js';
import { DEFAULT_SUBSCRIPTION_OPTIONS, SubscriptionCloseCode, type SubscriptionOptions } from './options.js';
import { Pipeline } from './pipeline.js';
import { SubscriptionPlanner } from './planner.js';
import { stableStringify } from './stable-stringify.js';
import { UpstreamPool } from './upstream-pool.js';

/** What the subscription server needs from the gateway (all of it is on `Gateway`). */
export interface SubscriptionHost {
  readonly server: Server;
  readonly apollo: ApolloServer<GatewayContext>;
  readonly authenticate: Authenticate;
  readonly signer: InternalTokenSigner;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Called with the current schema now and on every change. */
  onSchemaChange(listener: (schema: { readonly supergraphSdl: string }) => void): () => void;
  /** The gateway's subgraph data sources (internal token, keep-alive HTTP), by subgraph name. */
  dataSources(): ReadonlyMap<string, SubgraphDataSource>;
  /** The gateway's HTTP error formatting, so both transports mask and code errors alike. */
  readonly formatError: FormatError;
  /** Extra validation rules (the gateway's query limits). */
  readonly validationRules?: readonly ValidationRule[];
}

export interface SubscriptionStats {
  connections: number;
  subscriptions: number;
  pipelines: number;
  upstreams: number;
  upstreamConnections: number;
}

/** The gateway's graphql-ws endpoint with federated subscriptions. */
export interface SubscriptionServer {
  readonly options: Readonly<SubscriptionOptions>;
  readonly metrics: SubscriptionMetrics;
  /** Live counts (connections, client subscriptions, shared pipelines and upstreams). */
  stats(): SubscriptionStats;
  /** Closes every client (1001) and upstream; refuses new upgrades. */
  close(): Promise<void>;
}

/**
 * Serves graphql-ws on the gateway's HTTP server (same port, `options.path`) with federated
 * subscriptions (ARCHITECTURE §6):
 * - `connection_init` `{ authorization: "Bearer <jwt>" }` is verified like HTTP; failure closes
 *   4403 with the reason. The JWT's expiry ends the connection's subscriptions (see `ConnectionState`).
 * - A subscription is validated (plus the gateway's limits), planned with Apollo's query planner
 *   (cached), its `primary` fetch runs on the owning subgraph over graphql-ws (`UpstreamPool`:
 *   identical upstreams shared, ref-counted) and each event's `rest` runs through the gateway's
 *   data sources (`Pipeline`: identical client subscriptions share the work).
 * - Each client subscription has a bounded buffer; overflow closes the connection with 1013.
 * - Queries and mutations sent over the socket run through Apollo Server like HTTP requests.
 */
export function attachSubscriptions(host: SubscriptionHost, overrides: Partial<SubscriptionOptions> = {}): SubscriptionServer {
  const options: SubscriptionOptions = { ...DEFAULT_SUBSCRIPTION_OPTIONS, ...overrides };
  const { logger, formatError } = host;
  const metrics = createSubscriptionMetrics(host.metrics);
  const upstreams = new UpstreamPool({ signer: host.signer, logger, metrics, options });
  const pipelines = new Map<string, Pipeline>();
  const states = new Map<Context, ConnectionState>();
  const rules = [...specifiedRules, ...(host.validationRules ?? [])];
  let planner: SubscriptionPlanner | undefined;
  let generation = 0;
  let subscriptions = 0;
  let closing = false;

  const stopSchema = host.onSchemaChange(({ supergraphSdl }) => {
    if (planner?.supergraphSdl === supergraphSdl) return;
    try {
      planner = new SubscriptionPlanner(supergraphSdl, options.planCacheSize);
      generation++;
    } catch (error) {
      logger.error({ err: error }, 'cannot plan subscriptions against the new supergraph; keeping the previous one');
    }
  });

  const formatClientErrors = (errors: readonly GraphQLError[]): GraphQLFormattedError[] =>
    errors.flatMap((error) =>
      error.originalError instanceof SubscriptionTerminated ? error.originalError.errors : [formatError(error.toJSON(), error)],
    );

  function slowConsumer(state: ConnectionState, reason: string): void {
    metrics.slowConsumers.inc();
    logger.warn({ userId: state.userId, reason }, 'closing slow subscription consumer');
    // Free every buffer of the connection now; the close handshake may never complete.
    for (const stream of [...state.streams.values()]) void stream.return();
    state.socket.close(SubscriptionCloseCode.SlowConsumer, reason);
    setTimeout(() => state.socket.terminate(), options.closeGraceMs).unref();
  }

  function open(request: Extract<OperationRequest, { kind: 'subscription' }>): ClientStream {
    const { state, id, plan, variables } = request;
    const key = [generation, state.userId, plan.key, stableStringify(variables)].join('\u0000');
    let pipeline = pipelines.get(key);
    const isNew = !pipeline;
    if (!pipeline) {
      pipeline = new Pipeline(
        key,
        {
          planner: request.planner,
          plan,
          variables,
          userId: state.userId,
          // Per pipeline (one user): concurrent events' entity fetches are merged per subgraph.
          dataSources: new Map([...host.dataSources()].map(([name, source]) => [name, new EntityBatcher(source)])),
          formatError,
          logger,
        },
        options,
        metrics,
        (disposed) => {
          if (pipelines.get(disposed.key) === disposed) pipelines.delete(disposed.key);
          metrics.pipelines.dec();
        },
      );
      pipelines.set(key, pipeline);
      metrics.pipelines.inc();
    }
    const owner = pipeline;
    subscriptions++;
    metrics.subscriptions.inc();
    const stream = new ClientStream(options, {
      onOverflow: (_stream, reason) => slowConsumer(state, reason),
      onDetach: (detached) => {
        subscriptions--;
        metrics.subscriptions.dec();
        owner.remove(detached);
      },
    });
    state.streams.set(id, stream);
    owner.add(stream);
    if (isNew) {
      const primary = plan.primary;
      const source = host.dataSources().get(primary.serviceName);
      owner.attach((listener) => {
        if (!source) {
          listener.end([
            { message: `Subscription source "${primary.serviceName}" is unavailable`, extensions: { code: ErrorCode.UNAVAILABLE } },
          ]);
          return { release: () => {}, pressure: () => {} };
        }
        const used = Object.fromEntries(
          (primary.variableUsages ?? []).filter((name) => name in variables).map((name) => [name, variables[name]]),
        );
        return upstreams.acquire(
          {
            service: primary.serviceName,
            url: source.url,
            userId: state.userId,
            query: primary.operation,
            operationName: primary.operationName,
            variables: used,
          },
          listener,
        );
      });
    }
    return stream;
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayloadBytes });
  wss.on('connection', (socket) => {
    metrics.connections.inc();
    socket.once('close', () => metrics.connections.dec());
  });
  const disposable = useServer<Record<string, unknown>>(
    {
      onConnect: async (ctx) => {
        try {
          const { userId, expiresAt } = await authenticateConnection(host.authenticate, ctx.connectionParams);
          states.set(ctx, new ConnectionState(userId, ctx.extra.socket, expiresAt));
          return true;
        } catch (error) {
          const reason = error instanceof AppError ? error.message : 'Invalid token';
          ctx.extra.socket.close(SubscriptionCloseCode.Forbidden, reason);
          return false;
        }
      },
      onSubscribe: (ctx, id, payload) =>
        prepareOperation(
          { state: states.get(ctx), planner, rules, maxSubscriptions: options.maxSubscriptionsPerConnection, logger },
          id,
          payload,
        ),
      subscribe: (args) => {
        const request = args.contextValue as OperationRequest;
        if (request.kind !== 'subscription') throw new Error('not a subscription');
        // Results are formatted already; `onNext` sends them as they are.
        return open(request) as unknown as AsyncIterable<ExecutionResult>;
      },
      execute: async (args) => (await executeOverSocket(host.apollo, args.contextValue as OperationRequest)) as unknown as ExecutionResult,
      // Every result is already formatted (and masked) for the client.
      onNext: (_ctx, _id, _payload, _args, result) => result as FormattedExecutionResult,
      onError: (_ctx, _id, _payload, errors) => formatClientErrors(errors),
      onComplete: (ctx, id) => states.get(ctx)?.completed(id),
      onClose: (ctx) => {
        states.get(ctx)?.dispose();
        states.delete(ctx);
      },
    },
    wss,
    options.keepAliveMs,
  );

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    if (pathname !== options.path) {
      // Another upgrade handler may own this path; answer only when there is none.
      if (host.server.listenerCount('upgrade') === 1) refuse(socket, 404, 'Not Found');
      return;
    }
    if (closing) {
      refuse(socket, 503, 'Service Unavailable');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  };
  host.server.on('upgrade', onUpgrade);

  return {
    options,
    metrics,
    stats: () => ({
      connections: wss.clients.size,
      subscriptions,
      pipelines: pipelines.size,
      upstreams: upstreams.size.upstreams,
      upstreamConnections: upstreams.size.connections,
    }),
    async close() {
      if (closing) return;
      closing = true;
      host.server.off('upgrade', onUpgrade);
      stopSchema();
      // Clients that do not answer the close handshake (not reading) are cut after a second.
      const cut = setTimeout(() => {
        for (const client of wss.clients) client.terminate();
      }, 1_000);
      try {
        await disposable.dispose();
      } finally {
        clearTimeout(cut);
      }
      for (const state of states.values()) state.dispose();
      states.clear();
      await upstreams.close();
    },
  };
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
