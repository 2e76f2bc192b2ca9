import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ApolloServer } from '@apollo/server';
import { AppError, ErrorCode, type InternalTokenSigner, type Logger, type Metrics } from '@taskgraph/runtime';
import { type ExecutionResult, type GraphQLError, type GraphQLFormattedError, specifiedRules, type ValidationRule } from 'graphql';
import type { Context } from 'graphql-ws';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Authenticate } from '../auth.js';
import type { GatewayContext, SubgraphDataSource } from '../subgraph-data-source.js';
import { SubscriptionTerminated } from './client-stream.js';
import { authenticateConnection, ConnectionState } from './connection-state.js';
import type { FormatError } from './event-executor.js';
import { createSubscriptionMetrics, type SubscriptionMetrics } from './metrics.js';
import { executeOverSocket, type OperationRequest, prepareOperation } from './operation-request.js';
import { closeReason, DEFAULT_SUBSCRIPTION_OPTIONS, SubscriptionCloseCode, type SubscriptionOptions } from './options.js';
import { PipelineRegistry } from './pipeline-registry.js';
import { subscriptionLimitsPolicy } from './policies/limits.js';
import type { SubscriptionPolicy } from './policies/policy.js';
import { type OnSchemaChange, schemaChangePolicy } from './policies/schema-change.js';
import { slowConsumerPolicy } from './policies/slow-consumer.js';
import { tokenExpiryPolicy } from './policies/token-expiry.js';
import { UpstreamPool } from './upstream-pool.js';
import { serveGraphqlWs, type TransportExtra } from './ws-transport.js';

/** What the subscription server needs from the gateway (all of it is on `Gateway`). */
export interface SubscriptionHost {
  readonly server: Server;
  readonly apollo: ApolloServer<GatewayContext>;
  readonly authenticate: Authenticate;
  readonly signer: InternalTokenSigner;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Called with the current schema now and on every change. */
  onSchemaChange: OnSchemaChange;
  /** The gateway's subgraph data sources (internal token, keep-alive HTTP), by subgraph name. */
  dataSources(): ReadonlyMap<string, SubgraphDataSource>;
  /** The gateway's HTTP error formatting, so both transports mask and code errors alike. */
  readonly formatError: FormatError;
  /** Extra validation rules (the gateway's query limits). */
  readonly validationRules?: readonly ValidationRule[];
  /** Extra policies (e.g. rate limits), run after the built-in ones. */
  readonly policies?: readonly SubscriptionPolicy[];
}

export interface SubscriptionStats {
  connections: number;
  subscriptions: number;
  pipelines: number;
  upstreams: number;
  upstreamConnections: number;
}

/** What the subscription server holds in memory for undelivered results now. */
export interface SubscriptionBuffers {
  /** Results written to client sockets whose write has not completed (not all taken by the kernel). */
  queuedResults: number;
  /** Events held by pipelines (waiting for entity fetches or for full client connections). */
  pipelineEvents: number;
  /** Bytes of the resolved results among them. */
  pipelineBytes: number;
  /** Bytes the client sockets hold unsent (what the kernel did not take yet; results included). */
  socketBytes: number;
}

/** The gateway's graphql-ws endpoint with federated subscriptions. */
export interface SubscriptionServer {
  readonly options: Readonly<SubscriptionOptions>;
  readonly metrics: SubscriptionMetrics;
  /** Live counts (connections, client subscriptions, shared pipelines and upstreams). */
  stats(): SubscriptionStats;
  /** Undelivered results held now (the memory the per-client bounds limit). */
  buffers(): SubscriptionBuffers;
  /** Closes every client (1001) and upstream; refuses new upgrades. */
  close(): Promise<void>;
}

/**
 * Serves graphql-ws on the gateway's HTTP server (same port, `options.path`) with federated
 * subscriptions (ARCHITECTURE §6). This file is the protocol core: authentication at
 * `connection_init`, graphql-ws callbacks, upgrade routing, stats and shutdown. What is enforced
 * lives in policies (`policies/`: schema change, limits, token expiry, slow consumer, plus the
 * host's), and the sharing of work in `PipelineRegistry` / `UpstreamPool`.
 * Queries and mutations sent over the socket run through Apollo Server like HTTP requests.
 */
export function attachSubscriptions(host: SubscriptionHost, overrides: Partial<SubscriptionOptions> = {}): SubscriptionServer {
  const options: SubscriptionOptions = { ...DEFAULT_SUBSCRIPTION_OPTIONS, ...overrides };
  const { logger, formatError } = host;
  const metrics = createSubscriptionMetrics(host.metrics);
  const upstreams = new UpstreamPool({ signer: host.signer, logger, metrics, options });
  const registry = new PipelineRegistry({
    upstreams,
    dataSources: () => host.dataSources(),
    formatError,
    logger,
    metrics,
    options,
    onOverflow: (state, stream, reason) => {
      for (const policy of policies) policy.onOverflow?.(state, stream, reason);
    },
  });
  const schema = schemaChangePolicy(host.onSchemaChange, { planCacheSize: options.planCacheSize, logger });
  const policies: readonly SubscriptionPolicy[] = [
    schema,
    subscriptionLimitsPolicy({
      maxSubscriptionsPerConnection: options.maxSubscriptionsPerConnection,
      ...(host.validationRules ? { validationRules: host.validationRules } : {}),
    }),
    tokenExpiryPolicy(),
    slowConsumerPolicy({ closeGraceMs: options.closeGraceMs, metrics, logger }),
    ...(host.policies ?? []),
  ];
  const rules = [...specifiedRules, ...policies.flatMap((policy) => policy.validationRules ?? [])];
  const states = new Map<Context<Record<string, unknown>, TransportExtra>, ConnectionState>();
  let closing = false;

  const formatClientErrors = (errors: readonly GraphQLError[]): GraphQLFormattedError[] =>
    errors.flatMap((error) =>
      error.originalError instanceof SubscriptionTerminated ? error.originalError.errors : [formatError(error.toJSON(), error)],
    );

  const admit = (state: ConnectionState, id: string, payload: Parameters<NonNullable<SubscriptionPolicy['onSubscribe']>>[2]) => {
    for (const policy of policies) {
      const refused = policy.onSubscribe?.(state, id, payload);
      if (refused && refused.length > 0) return refused;
    }
    return undefined;
  };

  const open = (request: Extract<OperationRequest, { kind: 'subscription' }>) => {
    const { state, id } = request;
    const stream = registry.open(request, schema.generation);
    state.streams.set(id, stream);
    for (const policy of policies) policy.onStream?.(state, id, stream);
    return stream;
  };

  // permessage-deflate stays off (ws' server default): subscription results are written to the TCP
  // socket as pre-built uncompressed frames (ConnectionState.write), interleaved with ws' own writes.
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayloadBytes, perMessageDeflate: false });
  /** The TCP socket under each WebSocket, from the upgrade until `connection_init` (then on its ConnectionState). */
  const rawSockets = new WeakMap<WebSocket, Duplex>();
  const writeLimits = {
    maxBufferedMessages: options.maxBufferedMessages,
    maxBufferedBytes: options.maxBufferedBytes,
    stallTimeoutMs: options.stallTimeoutMs,
  };
  const disposable = serveGraphqlWs<Record<string, unknown>>(
    {
      onConnect: async (ctx) => {
        let state: ConnectionState;
        try {
          const { userId, expiresAt } = await authenticateConnection(host.authenticate, ctx.connectionParams);
          const raw = rawSockets.get(ctx.extra.socket);
          if (!raw) throw new Error('no TCP socket for this WebSocket');
          rawSockets.delete(ctx.extra.socket);
          state = new ConnectionState(userId, ctx.extra.socket, expiresAt, { raw, limits: writeLimits });
        } catch (error) {
          const known = error instanceof AppError;
          const reason = closeReason(known ? error.code : ErrorCode.UNAUTHENTICATED, known ? error.message : 'Invalid token');
          ctx.extra.socket.close(SubscriptionCloseCode.Forbidden, reason);
          return false;
        }
        states.set(ctx, state);
        for (const policy of policies) {
          const refusal = policy.onConnect?.(state);
          if (refusal) {
            ctx.extra.socket.close(refusal.code, refusal.reason);
            return false;
          }
        }
        return true;
      },
      onSubscribe: (ctx, id, payload) =>
        prepareOperation({ state: states.get(ctx), planner: schema.planner, rules, admit, logger }, id, payload),
      subscribe: (args) => {
        const request = args.contextValue as OperationRequest;
        if (request.kind !== 'subscription') throw new Error('not a subscription');
        // Results are formatted already; `onNext` sends them as they are.
        return open(request) as unknown as AsyncIterable<ExecutionResult>;
      },
      execute: async (args) => (await executeOverSocket(host.apollo, args.contextValue as OperationRequest)) as unknown as ExecutionResult,
      onError: (_ctx, _id, _payload, errors) => formatClientErrors(errors),
      onComplete: (ctx, id) => {
        const state = states.get(ctx);
        if (!state) return;
        state.streams.delete(id);
        for (const policy of policies) policy.onComplete?.(state, id);
      },
      onClose: (ctx) => {
        metrics.connections.dec();
        const state = states.get(ctx);
        states.delete(ctx);
        if (!state) return;
        state.dispose();
        for (const policy of policies) policy.onClose?.(state);
      },
    },
    wss,
    { keepAliveMs: options.keepAliveMs, logger },
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
    wss.handleUpgrade(req, socket, head, (ws) => {
      rawSockets.set(ws, socket);
      metrics.connections.inc();
      // Without the request: nothing needs it after the upgrade, and every connection would keep it.
      wss.emit('connection', ws);
    });
  };
  host.server.on('upgrade', onUpgrade);

  return {
    options,
    metrics,
    stats: () => ({
      connections: wss.clients.size,
      ...registry.size,
      upstreams: upstreams.size.upstreams,
      upstreamConnections: upstreams.size.connections,
    }),
    buffers: () => {
      let queuedResults = 0;
      let socketBytes = 0;
      for (const state of states.values()) {
        const pending = state.pending;
        queuedResults += pending.messages;
        socketBytes += pending.bytes;
      }
      const held = registry.held;
      return { queuedResults, pipelineEvents: held.events, pipelineBytes: held.bytes, socketBytes };
    },
    async close() {
      if (closing) return;
      closing = true;
      host.server.off('upgrade', onUpgrade);
      // Clients that do not answer the close handshake (not reading) are cut after a second.
      const cut = setTimeout(() => {
        for (const client of wss.clients) client.terminate();
      }, 1_000);
      try {
        await disposable.dispose();
      } finally {
        clearTimeout(cut);
      }
      for (const state of states.values()) for (const policy of policies) policy.onClose?.(state);
      states.clear();
      for (const policy of policies) policy.close?.();
      await upstreams.close();
    },
  };
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
