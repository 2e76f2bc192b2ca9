import type { Database, Logger } from '@taskgraph/runtime';
import { sleep } from './backoff.js';
import { executeSql } from './tx-sql.js';

/** Transaction advisory lock: one pruner at a time across processes (the others skip that round). */
export const BUS_PRUNE_LOCK = 7_301_003;

export interface BusRetentionOptions {
  db: Database;
  logger: Logger;
  /** `BUS_RETENTION_SECONDS`: how long events, processed-event markers and dead letters are kept (default 7 days). */
  retentionMs: number;
  /** Embedded: outbox rows are the log (kept until every live group consumed them); dapr: kept until published. */
  mode: 'embedded' | 'dapr';
  /**
   * `BUS_GROUP_EXPIRY_SECONDS`: a consumer group whose offset nobody touched for this long is gone
   * (its offset row is removed and holds nothing back); default 7 days. Independent of the
   * retention, so a group paused for longer than a short retention still keeps its events.
   */
  groupExpiryMs?: number;
  /** Rows deleted per statement (default 1,000): each batch is its own short transaction. */
  batchSize?: number;
  /** Pause between batches, so pruning never hogs the database (default 10 ms). */
  pauseMs?: number;
}

/** What one pruning round removed, and what it had to keep. */
export interface PruneReport {
  outbox: number;
  processedEvents: number;
  deadLetters: number;
  abandonedGroups: number;
  /** Per topic: events older than the retention kept because a live group has not consumed them (lag). */
  heldBack: Record<string, number>;
}

const DAY_MS = 86_400_000;
export const DEFAULT_BUS_RETENTION_MS = 7 * DAY_MS;
export const DEFAULT_BUS_GROUP_EXPIRY_MS = 7 * DAY_MS;

/**
 * Bounded storage for schema `bus` (ARCHITECTURE §3): deletes outbox rows, processed-event markers
 * and dead letters older than the retention, in small batches of their own transactions that lock
 * only the rows they delete — appends insert new rows and consumers read rows above their offset,
 * so neither waits for it.
 *
 * - `bus.outbox` (embedded): a row goes only when every live consumer group of its topic is past
 *   it; what a live group still has to consume is kept and reported as `heldBack` (lag), never
 *   pruned. A group is live while its process touches its offset row (its consumers on every batch,
 *   its retention runner every round); a group untouched for longer than `groupExpiryMs` belongs
 *   to a process that is gone (e.g. a sync instance of an earlier run): its offset row is removed
 *   and it holds nothing back. A group merely stopped for a while (paused, crashed, deploying)
 *   keeps its events however short the retention is.
 * - `bus.outbox` (dapr): a row goes once published (the broker has it) and older than the retention.
 * - `bus.processed_events`: markers older than the retention. Redeliveries inside the window are
 *   still deduplicated; the broker's own retention should not exceed this one.
 * - `bus.dead_letters`: entries older than the retention.
 */
export async function pruneBus(options: BusRetentionOptions): Promise<PruneReport | undefined> {
  const em = options.db.fork();
  const cutoff = new Date(Date.now() - options.retentionMs);
  const expired = new Date(Date.now() - (options.groupExpiryMs ?? DEFAULT_BUS_GROUP_EXPIRY_MS));
  const report: PruneReport = { outbox: 0, processedEvents: 0, deadLetters: 0, abandonedGroups: 0, heldBack: {} };
  const locked = await em.transactional(async (tx) => {
    const { rows } = await executeSql<{ ok: boolean }>(tx, 'select pg_try_advisory_xact_lock(?) as ok', [BUS_PRUNE_LOCK]);
    if (!rows[0]?.ok) return false;
    const abandoned = await executeSql(tx, 'delete from bus.consumer_offsets where updated_at < ?', [expired]);
    report.abandonedGroups = abandoned.affectedRows;
    return true;
  });
  if (!locked) return undefined;
  for (const { topic, upto } of await outboxLimits(options)) {
    // The oldest `limit` rows of the topic, of which those past the retention go: seq follows time
    // closely enough, and a batch that removes fewer than it looked at ends the topic's round.
    report.outbox += await inBatches(options, (limit) =>
      executeSql(
        options.db.fork(),
        `delete from bus.outbox where seq in (
           select seq from (select seq, occurred_at, published_at from bus.outbox where topic = ? and seq <= ? order by seq limit ?) as oldest
            where occurred_at < ? ${options.mode === 'dapr' ? 'and published_at is not null' : ''})`,
        [topic, upto, limit, cutoff],
      ),
    );
    const held = options.mode === 'embedded' ? await heldBack(options, topic, upto, cutoff) : 0;
    if (held > 0) report.heldBack[topic] = held;
  }
  report.processedEvents = await inBatches(options, (limit) =>
    executeSql(
      options.db.fork(),
      `delete from bus.processed_events where (consumer_group, event_id) in (
         select consumer_group, event_id from bus.processed_events where processed_at < ? limit ?)`,
      [cutoff, limit],
    ),
  );
  report.deadLetters = await inBatches(options, (limit) =>
    executeSql(
      options.db.fork(),
      'delete from bus.dead_letters where id in (select id from bus.dead_letters where created_at < ? order by id limit ?)',
      [cutoff, limit],
    ),
  );
  if (report.outbox + report.processedEvents + report.deadLetters + report.abandonedGroups > 0 || Object.keys(report.heldBack).length > 0)
    options.logger.info({ ...report }, 'bus retention pruned');
  return report;
}

/** Topics in the log (a loose index scan: few topics, many rows) and the highest seq each may lose (embedded: the slowest live group's offset). */
async function outboxLimits(options: BusRetentionOptions): Promise<{ topic: string; upto: string }[]> {
  const { rows } = await executeSql<{ topic: string; upto: string }>(
    options.db.fork(),
    `with recursive t as (
       (select topic from bus.outbox order by topic limit 1)
       union all
       select (select o.topic from bus.outbox o where o.topic > t.topic order by o.topic limit 1) from t where t.topic is not null)
     select t.topic, ${
       options.mode === 'embedded'
         ? 'coalesce((select min(c.seq) from bus.consumer_offsets c where c.topic = t.topic), 9223372036854775807)::text'
         : "'9223372036854775807'"
     } as upto from t where t.topic is not null`,
  );
  return rows;
}

/** Embedded: events of `topic` past the retention that a live group has not consumed yet (looks at the oldest 10,000). */
async function heldBack(options: BusRetentionOptions, topic: string, upto: string, cutoff: Date): Promise<number> {
  const { rows } = await executeSql<{ n: string }>(
    options.db.fork(),
    `select count(*)::text as n from (select seq, occurred_at from bus.outbox where topic = ? and seq > ? order by seq limit 10000) as next
      where occurred_at < ?`,
    [topic, upto, cutoff],
  );
  return Number(rows[0]?.n ?? 0);
}

/** Repeats `step` (one short transaction per batch) until a batch deletes fewer rows than asked. */
async function inBatches(options: BusRetentionOptions, step: (limit: number) => Promise<{ affectedRows: number }>): Promise<number> {
  const limit = options.batchSize ?? 1_000;
  let total = 0;
  for (;;) {
    const { affectedRows } = await step(limit);
    total += affectedRows;
    if (affectedRows < limit) return total;
    await sleep(options.pauseMs ?? 10);
  }
}
