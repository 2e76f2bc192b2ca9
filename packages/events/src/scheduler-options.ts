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

/**
 * `ms` as a protobuf-JSON `google.protobuf.Duration` (seconds with an `s` suffix: `5s`, `0.2s`), the
 * form daprd's Jobs handler accepts for `failurePolicy.constant.interval`: it decodes the body with
 * protojson, which refuses Go durations such as `200ms` (400 ERR_MALFORMED_REQUEST).
 */
export function protoJsonDuration(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0) throw new RangeError(`duration must be a whole number of milliseconds ≥ 0, got ${ms}`);
  const seconds = Math.floor(ms / 1_000);
  const millis = ms % 1_000;
  return millis === 0 ? `${seconds}s` : `${seconds}.${String(millis).padStart(3, '0').replace(/0+$/, '')}s`;
}
