/**
 * Tunables of the gateway's federated subscriptions (ARCHITECTURE §6) and the close codes it uses.
 * Defaults bound memory per connection: `maxSubscriptionsPerConnection` streams of at most
 * `maxBufferedMessages` / `maxBufferedBytes` unsent results each.
 */
export interface SubscriptionOptions {
  /** WebSocket path on the gateway's HTTP server (default `/graphql`, same port as HTTP). */
  path: string;
  /** Results queued for one client subscription before it counts as a slow consumer. */
  maxBufferedMessages: number;
  /** Serialized bytes queued for one client subscription before it counts as a slow consumer. */
  maxBufferedBytes: number;
  /**
   * Upstream events waiting for their entity fetches at which the gateway stops reading that
   * subgraph connection (TCP backpressure; resumed at half), e.g. during a large cursor replay.
   */
  pauseUpstreamAt: number;
  /**
   * Hard bound behind `pauseUpstreamAt`: more waiting events end the pipeline with UNAVAILABLE.
   * Leave room for one socket read (~64 KiB of events) still being parsed after a pause.
   */
  maxPendingEvents: number;
  /** Events of one pipeline whose entity fetches run at the same time (results stay in order). */
  eventConcurrency: number;
  /** Active subscriptions per WebSocket connection; more are refused with BAD_USER_INPUT. */
  maxSubscriptionsPerConnection: number;
  /** Largest accepted WebSocket message (bytes); the gateway's HTTP body limit is a good value. */
  maxPayloadBytes: number;
  /** Interval of WebSocket pings to clients; a client that misses one pong interval is dropped. */
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
}

export const DEFAULT_SUBSCRIPTION_OPTIONS: SubscriptionOptions = {
  path: '/graphql',
  maxBufferedMessages: 100,
  maxBufferedBytes: 1024 * 1024,
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
};

/**
 * WebSocket close codes the gateway sends besides graphql-ws' own (4400, 4401, 4406, 4408, 4409,
 * 4429, 4500). Both are retryable for graphql-ws clients, which then resubscribe with a fresh
 * `connection_init` (new token) and, for `taskUpdates`, their last cursor.
 */
export const SubscriptionCloseCode = {
  /**
   * RFC 6455 "Try Again Later": a slow consumer whose per-subscription buffer overflowed. The
   * reason names the limit. Other clients are unaffected.
   */
  SlowConsumer: 1013,
  /** graphql-ws `Forbidden`: invalid `connection_init` credentials, or the JWT expired. */
  Forbidden: 4403,
} as const;
