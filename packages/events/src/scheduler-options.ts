import type { Database, Logger } from '@taskgraph/runtime';
import type { DaprSidecarConfig } from './event-bus-options.js';

/** Dapr Jobs `failurePolicy.constant` (ARCHITECTURE §5): retry every `intervalMs`, at most `maxRetries` times. */
export interface JobFailurePolicy {
  intervalMs: number;
  maxRetries: number;
}

export const DEFAULT_JOB_FAILURE_POLICY: JobFailurePolicy = { intervalMs: 5_000, maxRetries: 3 };

/** Options of `createScheduler`. */
export interface SchedulerOptions {
  mode: 'embedded' | 'dapr';
  /** Job handlers' transactions run on this database; `bus.jobs` is on the same server. */
  db: Database;
  logger: Logger;
  /** Jobs are namespaced per app-id, as Dapr does. */
  appId: string;
  /** Required in dapr mode (only host and port are used). */
  dapr?: Pick<DaprSidecarConfig, 'host' | 'httpPort'> & Partial<DaprSidecarConfig>;
  /** Retries after a RETRY or a failed trigger (default 5 s × 3, Dapr's `constant` policy). */
  failurePolicy?: JobFailurePolicy;
  /** Safety re-check of `bus.jobs` / listener reconnect period (embedded, default 30 s). */
  safetyCheckMs?: number;
}

/** Go duration string Dapr accepts (`5s`, `250ms`). */
export function daprDuration(ms: number): string {
  return ms % 1_000 === 0 ? `${ms / 1_000}s` : `${ms}ms`;
}
