import type { Caller } from '@taskgraph/runtime';
import type { SyncFeed } from './feed/sync-feed.js';

/** Per-operation state (HTTP request or graphql-ws subscribe): the verified caller and the feed. */
export interface SyncContext {
  caller: Caller;
  feed: SyncFeed;
  /** Set per delivered update (graphql-ws): the trace context it was consumed in, sent as `extensions.traceparent`. */
  traceparent?: string | undefined;
}
