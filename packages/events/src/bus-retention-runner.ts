import type { Database, Logger } from '@taskgraph/runtime';
import { DEFAULT_BUS_GROUP_EXPIRY_MS, DEFAULT_BUS_RETENTION_MS, pruneBus } from './bus-retention.js';
import { executeSql } from './tx-sql.js';

export interface BusRetentionRunnerOptions {
  db: Database;
  logger: Logger;
  mode: 'embedded' | 'dapr';
  retentionMs: number;
  /** How often a round runs (default `BUS_PRUNE_INTERVAL_SECONDS`, else 10 minutes; never less often than a quarter of the retention). */
  intervalMs?: number;
  /** When an untouched consumer group counts as gone (default `BUS_GROUP_EXPIRY_SECONDS`, else 7 days): see `pruneBus`. */
  groupExpiryMs?: number;
  /** This process's consumer groups (embedded): their offset rows are touched every round, so they count as live. */
  groups: { group: string; topic: string }[];
}

/** `BUS_RETENTION_SECONDS` (positive integer), else the 7-day default. */
export function busRetentionMsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  return secondsFromEnv(env, 'BUS_RETENTION_SECONDS', DEFAULT_BUS_RETENTION_MS);
}

/** `BUS_PRUNE_INTERVAL_SECONDS` (positive integer), else 10 minutes. */
export function busPruneIntervalMsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  return secondsFromEnv(env, 'BUS_PRUNE_INTERVAL_SECONDS', DEFAULT_PRUNE_INTERVAL_MS);
}

/** `BUS_GROUP_EXPIRY_SECONDS` (positive integer), else 7 days. */
export function busGroupExpiryMsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  return secondsFromEnv(env, 'BUS_GROUP_EXPIRY_SECONDS', DEFAULT_BUS_GROUP_EXPIRY_MS);
}

const DEFAULT_PRUNE_INTERVAL_MS = 600_000;

function secondsFromEnv(env: NodeJS.ProcessEnv, name: string, fallbackMs: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallbackMs;
  if (!/^[1-9]\d{0,9}$/.test(raw)) throw new Error(`${name} must be a positive number of seconds, got ${raw}`);
  return Number(raw) * 1000;
}

/**
 * Runs the bus retention (`pruneBus`) periodically in the background, and keeps this process's
 * consumer groups marked live. Every process with a bus runs one; each round, one process prunes
 * (advisory lock) and the others skip. Errors are logged and retried next round.
 */
export function startBusRetention(options: BusRetentionRunnerOptions): { close(): Promise<void> } {
  const intervalMs = Math.max(1_000, Math.min(options.intervalMs ?? busPruneIntervalMsFromEnv(), Math.floor(options.retentionMs / 4)));
  const groupExpiryMs = options.groupExpiryMs ?? busGroupExpiryMsFromEnv();
  let running: Promise<void> | undefined;
  let closed = false;
  const round = async () => {
    if (options.groups.length > 0) {
      const values = options.groups.map(() => '(?, ?)').join(', ');
      await executeSql(
        options.db.fork(),
        `update bus.consumer_offsets set updated_at = now() where (consumer_group, topic) in (${values})`,
        options.groups.flatMap((g) => [g.group, g.topic]),
      );
    }
    await pruneBus({ db: options.db, logger: options.logger, mode: options.mode, retentionMs: options.retentionMs, groupExpiryMs });
  };
  const timer = setInterval(() => {
    if (running || closed) return;
    running = round()
      .catch((error) => options.logger.warn({ err: error }, 'bus retention round failed; retrying next round'))
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  timer.unref();
  return {
    async close() {
      closed = true;
      clearInterval(timer);
      await running;
    },
  };
}
