import type { Database, Logger, Metrics } from '@taskgraph/runtime';
import type { BackoffOptions } from './backoff.js';
import type { JobsApiSetting } from './jobs-api.js';

/** Where the Dapr sidecar listens (`DAPR_HOST`, `DAPR_HTTP_PORT`, `DAPR_PUBSUB_NAME`) and the tokens both ways. */
export interface DaprSidecarConfig {
  host: string;
  httpPort: number;
  /** Pub/sub component name (default component: `pubsub`). */
  pubsubName: string;
  /** `DAPR_API_TOKEN`: sent as `dapr-api-token` on every call to the sidecar (publish, jobs, health). */
  apiToken?: string;
  /**
   * `APP_API_TOKEN`: the token daprd sends in `dapr-api-token` on every call to the app; when set,
   * `/dapr/subscribe`, `/events/<topic>` and `/job/<name>` answer 401 without it.
   */
  appToken?: string;
  /** `DAPR_JOBS_API`: the Jobs route (default `auto`: chosen once from the sidecar's runtime version). */
  jobsApi?: JobsApiSetting;
}

/** Options of `createEventBus` (ARCHITECTURE §3). */
export interface EventBusOptions {
  /** `EVENT_BUS`: embedded Postgres log, or Dapr pub/sub fed by the outbox relay. */
  mode: 'embedded' | 'dapr';
  /** The consuming service's database: handlers' transactions run on it; `bus` is on the same server. */
  db: Database;
  logger: Logger;
  metrics: Metrics;
  /** Dapr app-id of the service (`tasks`, `audit`, ...). */
  appId: string;
  /**
   * Whether this process relays `bus.outbox` to Dapr (services that publish). One relay is active
   * across all processes (advisory lock); the others stand by. Ignored in embedded mode, where
   * the outbox itself is the log.
   */
  relay: boolean;
  /** Required in dapr mode. */
  dapr?: DaprSidecarConfig;
  /** Retry backoff of a RETRYing event and of a failing publish (default 50 ms doubling to 5 s). */
  backoff?: BackoffOptions;
  /** Events read per query (default 100; the Dapr relay's default is 500). */
  batchSize?: number;
  /** Embedded: most events a consumer group handles in one transaction (default 100; `Subscription.maxBatch` overrides). */
  consumerBatch?: number;
  /**
   * Embedded: a batch transaction takes no new event after this many milliseconds (default 20), so
   * a batch's after-commit effects (sync's live pushes) are not held back longer than about that.
   */
  consumerBatchMs?: number;
  /** Retention of `bus` rows (default `BUS_RETENTION_SECONDS`, else 7 days): see `pruneBus`. */
  retentionMs?: number;
  /** How often this process runs a retention round (default 10 minutes, at most a quarter of the retention). */
  pruneIntervalMs?: number;
  /** Safety re-check of the log / listener reconnect period (default 30 s). */
  safetyCheckMs?: number;
  /** How often a standby relay tries to become the active one (default 5 s). */
  relayStandbyMs?: number;
  /**
   * Dapr: the relay publishes runs of consecutive events (one per key) with the bulk publish API,
   * falling back to one request per event when the sidecar refuses it (default true).
   */
  bulkPublish?: boolean;
  /** Timeout of one publish call to the sidecar (default 10 s). */
  publishTimeoutMs?: number;
}

/** Topic+group pair key, used for duplicates checks. */
export const subscriptionKey = (group: string, topic: string): string => `${group}\u0000${topic}`;
