import { createLogReader, type LogReader, Topic } from '@taskgraph/events';
import type { Database, Logger } from '@taskgraph/runtime';
import type { TaskOp, TaskUpdate } from '../entities/task-update.entity.js';
import type { LiveHub } from './live-hub.js';

export interface OrderedReleaseOptions {
  db: Database;
  /** The bus's log (default: a reader on `db`). */
  log?: LogReader;
  hub: LiveHub<TaskUpdate>;
  logger: Logger;
  /**
   * An update the relay published this long ago that no sync instance has stored is given up on
   * (dead-lettered, or skipped as stale) so it cannot hold back everything after it.
   */
  holdMs: number;
  /** Safety re-check period (hold expiry, rows stored by other instances). */
  pollMs: number;
  onPublished?: (subscribers: number) => void;
}

interface ReleaseRow {
  seq: string;
  expired: boolean;
  cursor: string | null;
  event_id: string;
  user_id: string;
  task_id: string;
  op: TaskOp;
  version: number;
  changed_fields: string[];
  tags: string[];
  occurred_at: Date | string;
}

const BATCH = 500;

/** Stored rows of the given cursors (the log's `task-updates` records of one batch). */
const STORED = `
  select t."cursor"::text as cursor, t."event_id", t."user_id", t."task_id", t."op", t."version", t."changed_fields", t."tags", t."occurred_at"
    from "sync"."task_update" t where t."cursor" = any(?::bigint[])`;

/** Fallback when the outbox is not visible from sync's database: stored rows in cursor order. */
const STORED_ONLY = `
  select t."cursor"::text as seq, false as expired, t."cursor"::text as cursor, t."event_id", t."user_id", t."task_id", t."op", t."version",
         t."changed_fields", t."tags", t."occurred_at"
    from "sync"."task_update" t where t."cursor" > ? order by t."cursor" limit ?`;

const toUpdate = (row: ReleaseRow): TaskUpdate => ({
  cursor: row.cursor!,
  eventId: row.event_id,
  userId: row.user_id,
  taskId: row.task_id,
  op: row.op,
  version: row.version,
  changedFields: row.changed_fields,
  tags: row.tags,
  occurredAt: row.occurred_at instanceof Date ? row.occurred_at : new Date(row.occurred_at),
});

/**
 * Live publishing in log order for Dapr mode (ARCHITECTURE §6 "Gap-free realtime").
 *
 * Kafka keeps order per partition (per task) only: an update of task B (cursor 11) can be
 * delivered before one of task A (cursor 10). Publishing in delivery order would make a
 * subscriber that already emitted 11 drop 10 as "already seen" — a gap. So in Dapr mode the
 * handler only stores the row and wakes this releaser, which walks the `task-updates` log
 * (`bus.outbox`, the same table the relay publishes from) in cursor order and publishes each
 * update once its row is stored (by any instance), stopping at the first one still in flight.
 * `horizon` is the cursor up to which everything is published: replays read up to it, and what
 * is above it arrives live, in order. Per-task Kafka order still bounds how long the wait is.
 */
export class OrderedRelease {
  private released = 0n;
  private dirty = false;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private outboxVisible = true;
  private readonly log: LogReader;

  constructor(private readonly options: OrderedReleaseOptions) {
    this.log = options.log ?? createLogReader(options.db);
  }

  /** Everything with a cursor ≤ horizon has been published (or given up on). */
  get horizon(): bigint {
    return this.released;
  }

  /** Starts after `from` (the window's head: older rows are history, served by replay). */
  start(from: bigint): void {
    this.released = from;
    this.tick();
    this.wake();
  }

  /** A row was stored (or may have been): look for what can be released now. */
  wake(): void {
    this.dirty = true;
    if (this.running || this.closed) return;
    this.running = this.drain()
      .catch((error) => this.options.logger.error({ err: error }, 'ordered release failed; retrying on the next check'))
      .finally(() => {
        this.running = undefined;
        if (this.dirty && !this.closed) this.wake();
      });
  }

  /** `task-updates` records in the log not yet published live by this process (readiness detail, metrics). */
  async backlog(): Promise<number> {
    return this.outboxVisible ? this.log.backlog(Topic.TaskUpdates, this.released.toString()) : 0;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private tick(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.wake();
      this.tick();
    }, this.options.pollMs);
    this.timer.unref();
  }

  private async drain(): Promise<void> {
    while (this.dirty && !this.closed) {
      this.dirty = false;
      if (await this.step()) this.dirty = true;
    }
  }

  /** The next `task-updates` records of the log, each with its stored row when there is one. */
  private async nextFromLog(): Promise<ReleaseRow[]> {
    const records = await this.log.read(Topic.TaskUpdates, this.released.toString(), BATCH);
    if (records.length === 0) return [];
    const stored = (await this.options.db
      .fork()
      .getConnection()
      // A Postgres array literal: knex would expand a JS array binding into a list.
      .execute(STORED, [`{${records.map((r) => r.seq).join(',')}}`])) as Omit<ReleaseRow, 'seq' | 'expired'>[];
    const byCursor = new Map(stored.map((row) => [String(row.cursor), row]));
    const none = { cursor: null } as Omit<ReleaseRow, 'seq' | 'expired'>;
    return records.map((record) => ({
      ...(byCursor.get(record.seq) ?? none),
      seq: record.seq,
      expired: record.publishedAgoMs !== null && record.publishedAgoMs > this.options.holdMs,
    }));
  }

  /** Releases what it can; true when a full batch went out (more may follow at once). */
  private async step(): Promise<boolean> {
    const connection = this.options.db.fork().getConnection();
    let rows: ReleaseRow[] = [];
    if (this.outboxVisible) rows = await this.nextFromLog();
    if (rows.length === 0) {
      const stored = (await connection.execute(STORED_ONLY, [this.released.toString(), BATCH])) as ReleaseRow[];
      // The log may hold records above its horizon (transactions still running): not a sign that it is invisible.
      if (stored.length > 0 && this.outboxVisible && (await this.log.backlog(Topic.TaskUpdates, this.released.toString())) === 0) {
        // Stored rows the log does not have: sync's database cannot see the outbox. Order across tasks
        // then follows delivery order (best effort) — a deployment with a shared database avoids this.
        this.outboxVisible = false;
        this.options.logger.warn('the bus log is not visible from the sync database: live updates follow delivery order');
      }
      if (!this.outboxVisible) rows = stored;
    }
    let processed = 0;
    for (const row of rows) {
      if (row.cursor === null) {
        if (!row.expired) break; // still in flight: everything after it waits (in order)
        this.options.logger.warn({ seq: row.seq }, 'update never stored (dead-lettered or stale): released past it');
        this.released = BigInt(row.seq);
        processed++;
        continue;
      }
      // Advance and publish in the same synchronous step: a replay reading up to `horizon` and the
      // live buffer then meet exactly at the seam.
      this.released = BigInt(row.seq);
      const subscribers = this.options.hub.publish(row.user_id, toUpdate(row));
      this.options.onPublished?.(subscribers);
      processed++;
    }
    return rows.length === BATCH && processed === rows.length;
  }
}
