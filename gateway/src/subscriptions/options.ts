/**
 * Tunables of the gateway's federated subscriptions (ARCHITECTURE §6) and the close codes it uses.
 * Defaults bound memory per connection: a socket holding at most `maxBufferedBytes` unsent (plus
 * one result per subscription), `maxSubscriptionsPerConnection` subscriptions.
 */
export interface SubscriptionOptions {
  /** WebSocket path on the gateway's HTTP server (default `/graphql`, same port as HTTP). */
  path: string;
  /**
   * Results written to a client connection whose write has not completed (not all taken by the
   * kernel) at which it is full: its subscriptions' pipelines then wait for the client to read
   * (flow control), and pause their upstreams. Never an error by itself.
   */
  maxBufferedMessages: number;
  /**
   * Bytes a client connection's socket holds unsent at which it is full (at most one result more
   * per subscription is written); also the bytes of resolved results a pipeline holds before
   * pausing its upstream.
   */
  maxBufferedBytes: number;
  /**
   * A full client connection on which no write completes for this long is a slow consumer: its
   * subscriptions end with `SLOW_CONSUMER` and it is closed with 1013 `SLOW_CONSUMER: …`.
   */
  stallTimeoutMs: number;
  /**
   * Upstream events waiting for their entity fetches at which the gateway stops reading that
   * subgraph connection (TCP backpressure; resumed at half), e.g. during a large cursor replay.
   */
  pauseUpstreamAt: number;
  /**
   * Hard bound behind `pauseUpstreamAt`: more waiting events end the pipeline with UNAVAILABLE.
   * Leave room for one socket read (~64 KiB of events, ~600 of the lightest) still parsed after a pause.
   */
  maxPendingEvents: number;
  /** Events of one pipeline whose entity fetches run at the same time (results stay in order). */
  eventConcurrency: number;
  /** Active subscriptions per WebSocket connection; more are refused with RATE_LIMITED. */
  maxSubscriptionsPerConnection: number;
  /** Largest accepted WebSocket message (bytes); the gateway's HTTP body limit is a good value. */
  maxPayloadBytes: number;
  /** Interval of the WebSocket ping sweep over all clients; a client that has not answered the previous ping is dropped. */
  keepAliveMs: number;
  /** Interval of graphql-ws pings to subgraphs; no pong within `upstreamPongTimeoutMs` drops the link. */
  upstreamKeepAliveMs: number;
  upstreamPongTimeoutMs: number;
  /** How long to wait for a subgraph's `connection_ack`. */
  upstreamAckTimeoutMs: number;
  /** How long a closed slow consumer may take to finish the close handshake before it is cut. */
  closeGraceMs: number;
  /** Compiled subscription plans kept (LRU), keyed by operation text and name. */
  planCacheSize: number;
  /**
   * Causal freshness: each event's entity fetches carry the entity versions the event is about
   * (`extensions.causal` from the subscription subgraph), so subgraphs built from events (audit)
   * answer once they reflect it. Off only to measure what it costs (`npm run bench -- realtime`).
   */
  causalFreshness: boolean;
}

export const DEFAULT_SUBSCRIPTION_OPTIONS: SubscriptionOptions = {
  path: '/graphql',
  maxBufferedMessages: 100,
  maxBufferedBytes: 1024 * 1024,
  stallTimeoutMs: 10_000,
  pauseUpstreamAt: 64,
  maxPendingEvents: 2_000,
  eventConcurrency: 8,
  maxSubscriptionsPerConnection: 50,
  maxPayloadBytes: 100 * 1024,
  keepAliveMs: 12_000,
  upstreamKeepAliveMs: 10_000,
  upstreamPongTimeoutMs: 5_000,
  upstreamAckTimeoutMs: 10_000,
  closeGraceMs: 10_000,
  planCacheSize: 500,
  causalFreshness: true,
};

/**
 * WebSocket close codes the gateway sends besides graphql-ws' own (4400, 4401, 4406, 4408, 4409,
 * 4429, 4500). Both are retryable for graphql-ws clients, which then resubscribe with a fresh
 * `connection_init` (new token) and, for `taskUpdates`, their last cursor.
 */
export const SubscriptionCloseCode = {
  /**
   * RFC 6455 "Try Again Later": a slow consumer (a full connection read nothing for
   * `stallTimeoutMs`). The reason starts with `SLOW_CONSUMER:`. Other clients are unaffected.
   */
  SlowConsumer: 1013,
  /**
   * graphql-ws `Forbidden`: invalid `connection_init` credentials, or the JWT expired. The reason
   * starts with the error code: `UNAUTHENTICATED: Invalid token`, `UNAUTHENTICATED: Token expired`.
   */
  Forbidden: 4403,
} as const;

/** Longest close reason RFC 6455 allows (bytes). */
const MAX_CLOSE_REASON_BYTES = 123;

/**
 * A close reason that starts with the error code (`UNAUTHENTICATED: Invalid token`), the form
 * graphql-ws, Apollo Client and urql surface to applications; cut to the 123 bytes a close frame holds.
 */
export function closeReason(code: string, message: string): string {
  let reason = `${code}: ${message}`;
  while (Buffer.byteLength(reason) > MAX_CLOSE_REASON_BYTES) reason = reason.slice(0, -1);
  return reason;
}
