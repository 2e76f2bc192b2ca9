import type { Caller } from '@taskgraph/runtime';
import type { SyncFeed } from './feed/sync-feed.js';

/** Per-operation state (HTTP request or graphql-ws subscribe): the verified caller and the feed. */
export interface SyncContext {
  caller: Caller;
  feed: SyncFeed;
}
