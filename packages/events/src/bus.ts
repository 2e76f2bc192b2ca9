import type { EntityManager, HttpRoute } from '@taskgraph/runtime';
import type { DeliveredEvent } from './envelope.js';
import type { EventType } from './schemas.js';
import type { Topic } from './topics.js';

/** What a handler tells the bus (CONVENTIONS §5, ARCHITECTURE §5): nothing relies on throwing. */
export type HandlerStatus = 'SUCCESS' | 'RETRY' | 'DROP';
export interface HandlerResult {
  status: HandlerStatus;
  /** Why: logged, and stored with dead letters. */
  reason?: string;
}
export const SUCCESS: HandlerResult = { status: 'SUCCESS' };
export const retry = (reason: string): HandlerResult => ({ status: 'RETRY', reason });
export const drop = (reason: string): HandlerResult => ({ status: 'DROP', reason });

/**
 * Handles one validated event inside a transaction on the consumer's own database: whatever
 * it writes through `tx` commits atomically with the consumer's offset (embedded) or its
 * processed-event marker (dapr), so the effect happens exactly once. Embedded consumers handle a
 * batch of events per transaction, each handler in its own savepoint: work that must wait for the
 * commit (live pushes) goes through `onCommit(tx, effect)`, not through hooks of the transaction.
 */
export type EventHandler = (event: DeliveredEvent, tx: EntityManager) => Promise<HandlerResult>;

/**
 * Handles several events of a consumer batch at once (embedded bus only), inside the batch's
 * transaction, and returns the ids of those it handled completely (as `handler` would have, with
 * SUCCESS). The others go to `handler` one by one, in log order, after it: per key, an
 * implementation reports either all or none of a key's events in the batch. Throwing, or a failing
 * statement, makes the bus redo the whole batch through `handler`, one savepoint per event.
 */
export type BatchEventHandler = (events: readonly DeliveredEvent[], tx: EntityManager) => Promise<ReadonlySet<string>>;

/**
 * Where a consumer group that has no offset yet starts (embedded log; Dapr/Kafka uses the
 * component's `initialOffset`): `earliest` = the whole retained log, `latest` = after what is in
 * the log now (the horizon), `{ after }` = after that log position (a `seq`). A group that has an
 * offset keeps it: restarts resume where it left off.
 */
export type StartPosition = 'earliest' | 'latest' | { after: string };

export interface Subscription {
  /** Consumer group: one offset per group; each group sees every event of the topic. */
  group: string;
  topic: Topic;
  /** Event types this consumer wants; others are acknowledged without calling the handler. */
  types?: readonly EventType[];
  handler: EventHandler;
  /** Optional: several events at once where that is cheaper (embedded bus; see `BatchEventHandler`). */
  batchHandler?: BatchEventHandler;
  /** Start of a new group (default `earliest`). */
  startAt?: StartPosition;
  /**
   * Embedded: most events handled in one transaction (default the bus's `consumerBatch`). A batch's
   * after-commit effects (`onCommit`) run together when it commits: a consumer whose effects feed
   * bounded queues can keep its bursts below their size.
   */
  maxBatch?: number;
}

/** The event bus a service consumes from (ARCHITECTURE §3): embedded Postgres log or Dapr pub/sub. */
export interface EventBus {
  readonly mode: 'embedded' | 'dapr';
  /** Registers a consumer; call before `start()`. */
  subscribe(subscription: Subscription): void;
  /** Starts consuming (embedded) or serving deliveries (dapr) and, where this service publishes, the relay. */
  start(): Promise<void>;
  /** HTTP routes the service must serve (dapr: `/dapr/subscribe`, `/events/<topic>`). */
  routes(): HttpRoute[];
  /** Events behind the log head per consumer group (embedded); dapr reports what it can see. */
  lag(): Promise<Record<string, number>>;
  /** True when the bus's backing store is reachable. */
  ready(): Promise<boolean>;
  close(): Promise<void>;
}

/** A scheduled job (Dapr Jobs semantics): named, one-shot, overwrite on re-schedule. */
export interface Job {
  name: string;
  dueTime: Date;
  data: Record<string, unknown>;
}

/** Called when a job is due; at-least-once, never early. RETRY → retried per failure policy. */
export type JobHandler = (job: { name: string; data: Record<string, unknown> }, tx: EntityManager) => Promise<HandlerResult>;

/** Scheduler (ARCHITECTURE §3/§5): Dapr Jobs API, or the `bus.jobs` table in embedded mode. */
export interface Scheduler {
  readonly mode: 'embedded' | 'dapr';
  /**
   * Creates or overwrites job `name`. With `tx` (embedded) the job commits with the caller's
   * transaction; dapr calls the sidecar at once (idempotent overwrite, so a retried caller is safe).
   */
  schedule(job: Job, tx?: EntityManager): Promise<void>;
  /** Deletes job `name`; deleting a missing job is not an error. */
  delete(name: string, tx?: EntityManager): Promise<void>;
  onTrigger(handler: JobHandler): void;
  start(): Promise<void>;
  routes(): HttpRoute[];
  close(): Promise<void>;
}
