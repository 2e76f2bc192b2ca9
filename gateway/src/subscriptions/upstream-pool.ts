import { ErrorCode, INTERNAL_TOKEN_HEADER, type InternalTokenSigner, type Logger, webSocketUrl } from '@taskgraph/runtime';
import type { GraphQLFormattedError } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import { WebSocket } from 'ws';
import type { UpstreamEvent } from './event-executor.js';
import type { SubscriptionMetrics } from './metrics.js';
import type { SubscriptionOptions } from './options.js';
import { stableStringify } from './stable-stringify.js';

/** Receives one shared upstream subscription's events. */
export interface UpstreamListener {
  next(event: UpstreamEvent): void;
  /** The upstream ended: `errors` (formatted, not yet masked) when it failed, none when it completed. */
  end(errors?: readonly GraphQLFormattedError[]): void;
}

/** What to subscribe to on a subscription subgraph, on behalf of one user. */
export interface UpstreamRequest {
  service: string;
  /** The subgraph's GraphQL endpoint (`http(s)://…`); the WebSocket URL is derived from it. */
  url: string;
  userId: string;
  query: string;
  operationName: string | undefined;
  /** Only the variables the fetch uses. */
  variables: Record<string, unknown>;
}

interface Upstream {
  readonly key: string;
  readonly service: string;
  readonly connection: Connection;
  readonly listeners: Set<UpstreamListener>;
  dispose(): void;
}

interface Connection {
  readonly key: string;
  readonly client: Client;
  readonly upstreams: Set<Upstream>;
  /** Listeners that cannot keep up: while any is here, the socket is not read (TCP backpressure). */
  readonly pressured: Set<UpstreamListener>;
  socket: WebSocket | undefined;
}

/** A listener's hold on an upstream. */
export interface UpstreamHandle {
  /** Leaves the upstream; the last listener to leave completes it. Idempotent. */
  release(): void;
  /**
   * `true`: this listener is behind, stop reading the upstream socket (the subgraph's sends then
   * wait, e.g. a large replay is read from its database only as fast as the gateway resolves it);
   * `false`: caught up again.
   */
  pressure(on: boolean): void;
}

export interface UpstreamPoolOptions {
  signer: InternalTokenSigner;
  logger: Logger;
  metrics: SubscriptionMetrics;
  options: Pick<SubscriptionOptions, 'upstreamKeepAliveMs' | 'upstreamPongTimeoutMs' | 'upstreamAckTimeoutMs'>;
}

/** `http://h/graphql` → `ws://h/graphql`. */

/**
 * The gateway's subscriptions to subgraphs over graphql-ws (ARCHITECTURE §6). One WebSocket per
 * upstream subscription (so flow control is per subscription), authenticated with its user's internal token (signed afresh on every
 * connect); identical subscriptions (same operation text, variables and user) share ONE upstream
 * subscription, reference-counted by listener and completed when the last listener leaves.
 *
 * Upstreams are never retried transparently: resubscribing with the original variables would
 * replay (duplicates) or skip (gap) events, so a lost link ends every upstream on it with
 * UNAVAILABLE and clients resubscribe with their last cursor (gap-free by design).
 */
export class UpstreamPool {
  private readonly upstreams = new Map<string, Upstream>();
  private readonly connections = new Map<string, Connection>();
  private closed = false;

  constructor(private readonly deps: UpstreamPoolOptions) {}

  /** Open upstream subscriptions and WebSocket connections (tests, metrics). */
  get size(): { upstreams: number; connections: number } {
    return { upstreams: this.upstreams.size, connections: this.connections.size };
  }

  /** Adds `listener` to the matching upstream (started on first use). */
  acquire(request: UpstreamRequest, listener: UpstreamListener): UpstreamHandle {
    if (this.closed) {
      listener.end([unavailable(request.service, 'the gateway is shutting down')]);
      return { release: () => {}, pressure: () => {} };
    }
    const key = [
      request.service,
      request.url,
      request.userId,
      request.operationName ?? '',
      request.query,
      stableStringify(request.variables),
    ].join('\u0000');
    let upstream = this.upstreams.get(key);
    if (!upstream) upstream = this.start(key, request);
    upstream.listeners.add(listener);
    const current = upstream;
    return {
      release: () => {
        this.setPressure(current.connection, listener, false);
        if (!current.listeners.delete(listener)) return;
        if (current.listeners.size === 0) this.stop(current);
      },
      pressure: (on) => {
        if (current.listeners.has(listener)) this.setPressure(current.connection, listener, on);
      },
    };
  }

  private setPressure(connection: Connection, listener: UpstreamListener, on: boolean): void {
    if (on) connection.pressured.add(listener);
    else if (!connection.pressured.delete(listener)) return;
    const socket = connection.socket;
    if (!socket) return;
    if (connection.pressured.size > 0 && !socket.isPaused) socket.pause();
    else if (connection.pressured.size === 0 && socket.isPaused) socket.resume();
  }

  /** Ends every upstream (listeners get UNAVAILABLE) and closes every connection. */
  async close(): Promise<void> {
    this.closed = true;
    for (const upstream of [...this.upstreams.values()])
      this.finish(upstream, [unavailable(upstream.service, 'the gateway is shutting down')]);
    await Promise.all([...this.connections.values()].map((connection) => this.dropConnection(connection)));
  }

  private start(key: string, request: UpstreamRequest): Upstream {
    const connection = this.connectionFor(request, key);
    let ended = false;
    const upstream: Upstream = {
      key,
      service: request.service,
      connection,
      listeners: new Set(),
      dispose: () => {},
    };
    this.upstreams.set(key, upstream);
    connection.upstreams.add(upstream);
    this.deps.metrics.upstreams.inc();
    const dispose = connection.client.subscribe<Record<string, unknown>, Record<string, unknown>>(
      { query: request.query, variables: request.variables, ...(request.operationName ? { operationName: request.operationName } : {}) },
      {
        next: (event) => {
          if (ended) return;
          for (const listener of [...upstream.listeners]) listener.next(event);
        },
        error: (error) => {
          if (ended) return;
          ended = true;
          this.finish(upstream, upstreamErrors(request.service, error, this.deps.logger));
        },
        complete: () => {
          if (ended) return;
          ended = true;
          this.finish(upstream, undefined);
        },
      },
    );
    upstream.dispose = () => {
      ended = true;
      dispose();
    };
    return upstream;
  }

  /** The last listener left: complete the subgraph subscription. */
  private stop(upstream: Upstream): void {
    if (this.upstreams.get(upstream.key) !== upstream) return;
    upstream.dispose();
    this.remove(upstream);
  }

  /** The upstream ended (completed, failed, gateway closing): tell every listener once. */
  private finish(upstream: Upstream, errors: readonly GraphQLFormattedError[] | undefined): void {
    if (this.upstreams.get(upstream.key) !== upstream) return;
    upstream.dispose();
    this.remove(upstream);
    const listeners = [...upstream.listeners];
    upstream.listeners.clear();
    for (const listener of listeners) listener.end(errors);
  }

  private remove(upstream: Upstream): void {
    this.upstreams.delete(upstream.key);
    this.deps.metrics.upstreams.dec();
    const { connection } = upstream;
    connection.upstreams.delete(upstream);
    if (connection.upstreams.size === 0) void this.dropConnection(connection);
  }

  /**
   * One WebSocket per upstream subscription: flow control is per socket (a pipeline that is behind
   * stops reading it), so a slow or replaying subscription never holds back another one of the
   * same user. Identical subscriptions still share the upstream, hence its socket.
   */
  private connectionFor(request: UpstreamRequest, upstreamKey: string): Connection {
    const key = upstreamKey;
    const existing = this.connections.get(key);
    if (existing) return existing;
    const { signer, options, logger } = this.deps;
    let pongTimer: NodeJS.Timeout | undefined;
    const connection: Connection = {
      key,
      upstreams: new Set(),
      pressured: new Set(),
      socket: undefined,
      client: createClient({
        url: webSocketUrl(request.url),
        webSocketImpl: WebSocket,
        // The internal token is short-lived: sign one for every (re)connect.
        connectionParams: async () => ({ [INTERNAL_TOKEN_HEADER]: await signer.tokenFor(request.userId) }),
        lazy: true,
        lazyCloseTimeout: 0,
        retryAttempts: 0,
        shouldRetry: () => false,
        keepAlive: options.upstreamKeepAliveMs,
        connectionAckWaitTimeout: options.upstreamAckTimeoutMs,
        on: {
          connected: (socket, _payload, wasRetry) => {
            connection.socket = socket as WebSocket;
            if (connection.pressured.size > 0) connection.socket.pause();
            // graphql-ws reconnects on a 1000 close even with retries off; resubscribing would
            // replay or skip events, so end the upstreams instead (clients resume by cursor).
            if (wasRetry) {
              for (const upstream of [...connection.upstreams])
                this.finish(upstream, [unavailable(request.service, 'connection was reset')]);
            }
          },
          ping: (received) => {
            // While paused for backpressure the pong cannot be read: do not count it as missing.
            if (received || connection.socket?.isPaused) return;
            clearTimeout(pongTimer);
            pongTimer = setTimeout(() => {
              logger.warn({ service: request.service }, 'subscription subgraph missed a pong; dropping the connection');
              if (connection.socket?.readyState === WebSocket.OPEN) connection.socket.close(4408, 'Pong timeout');
            }, options.upstreamPongTimeoutMs);
            pongTimer.unref();
          },
          pong: (received) => {
            if (received) clearTimeout(pongTimer);
          },
          closed: () => {
            clearTimeout(pongTimer);
            connection.socket = undefined;
          },
        },
      }),
    };
    this.connections.set(key, connection);
    this.deps.metrics.upstreamConnections.inc();
    return connection;
  }

  private async dropConnection(connection: Connection): Promise<void> {
    if (this.connections.get(connection.key) !== connection) return;
    this.connections.delete(connection.key);
    this.deps.metrics.upstreamConnections.dec();
    await connection.client.dispose();
  }
}

function unavailable(service: string, why: string): GraphQLFormattedError {
  return { message: `Subscription source "${service}" is unavailable: ${why}`, extensions: { code: ErrorCode.UNAVAILABLE, service } };
}

/** A graphql-ws sink error: the subgraph's `error` message (GraphQL errors) or a socket failure. */
function upstreamErrors(service: string, error: unknown, logger: Logger): readonly GraphQLFormattedError[] {
  if (Array.isArray(error) && error.length > 0 && error.every((e) => typeof e === 'object' && e !== null && 'message' in e)) {
    return error as GraphQLFormattedError[];
  }
  const close = error as { code?: unknown; reason?: unknown; message?: unknown };
  const detail =
    typeof close?.code === 'number' ? `closed ${close.code} ${String(close.reason ?? '')}`.trim() : String(close?.message ?? error);
  logger.warn({ service, detail }, 'subscription subgraph connection failed');
  return [unavailable(service, 'connection lost')];
}
