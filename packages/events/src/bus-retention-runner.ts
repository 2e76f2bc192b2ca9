import type { Database, Logger } from '@taskgraph/runtime';
import { DEFAULT_BUS_RETENTION_MS, pruneBus } from './bus-retention.js';
import { executeSql } from './tx-sql.js';

export interface BusRetentionRunnerOptions {
  db: Database;
  logger: Logger;
  mode: 'embedded' | 'dapr';
  retentionMs: number;
  /** How often a round runs (default 10 minutes; never less often than a quarter of the retention). */
  intervalMs?: number;
  /** This process's consumer groups (embedded): their offset rows are touched every round, so they count as live. */
  groups: { group: string; topic: string }[];
}

/** `BUS_RETENTION_SECONDS` (positive integer), else the 7-day default. */
export function busRetentionMsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.BUS_RETENTION_SECONDS;
  if (raw === undefined || raw === '') return DEFAULT_BUS_RETENTION_MS;
  if (!/^[1-9]\d{0,9}$/.test(raw)) throw new Error(`BUS_RETENTION_SECONDS must be a positive number of seconds, got ${raw}`);
  return Number(raw) * 1000;
}

/**
 * Runs the bus retention (`pruneBus`) periodically in the background, and keeps this process's
 * consumer groups marked live. Every process with a bus runs one; each round, one process prunes
 * (advisory lock) and the others skip. Errors are logged and retried next round.
 */
export function startBusRetention(options: BusRetentionRunnerOptions): { close(): Promise<void> } {
  const intervalMs = Math.max(1_000, Math.min(options.intervalMs ?? 600_000, Math.floor(options.retentionMs / 4)));
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
    await pruneBus({ db: options.db, logger: options.logger, mode: options.mode, retentionMs: options.retentionMs });
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
