import type { Caller } from '@taskgraph/runtime';
import type { SyncFeed } from './feed/sync-feed.js';

/** Per-operation state (HTTP request or graphql-ws subscribe): the verified caller and the feed. */
export interface SyncContext {
  caller: Caller;
  feed: SyncFeed;
  /** Set per delivered update (graphql-ws): the trace context it was consumed in, sent as `extensions.traceparent`. */
  traceparent?: string | undefined;
  /**
   * Set by the `taskUpdates` resolver for the event being sent (one context per graphql-ws
   * operation, events resolved one at a time): the entity versions the event's payload must
   * reflect, sent as `extensions.causal` of its `next` message (ARCHITECTURE §6, causal freshness).
   */
  causal?: CausalVersions | undefined;
}

/** `{ Task: { "<task id>": <version> } }`: per entity type and id, the version a payload must reflect at least. */
export type CausalVersions = Record<string, Record<string, number>>;
