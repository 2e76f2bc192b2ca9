import type { Database, EntityManager, Logger, Metrics } from '@taskgraph/runtime';
import { Backoff, type BackoffOptions, sleep } from './backoff.js';
import type { HandlerResult, Subscription } from './bus.js';
import { recordDeadLetter } from './dead-letters.js';
import { validateData } from './envelope.js';
import { errorMessage } from './error-message.js';
import type { LogHorizon } from './log-horizon.js';
import { OUTBOX_COLUMNS, type OutboxRow, rowMeta, rowSnapshot } from './outbox-row.js';
import type { EventType } from './schemas.js';
import { executeSql, Rollback } from './tx-sql.js';
import { WakeSignal } from './wake-signal.js';

export interface EmbeddedConsumerOptions {
  db: Database;
  logger: Logger;
  metrics: Metrics;
  backoff: BackoffOptions;
  batchSize: number;
  /** The process's log horizon, shared by its consumers: rows are read up to it only. */
  horizon: LogHorizon;
}

/** Re-check period while committed rows wait above the horizon (running transactions to end). */
const HORIZON_POLL = { initialMs: 1, maxMs: 20 };

type Outcome = 'done' | 'retry';
/** Another process of the same group committed this event first. */
const ALREADY_HANDLED = Symbol('already handled');

/**
 * One consumer group on one topic of the embedded log (ARCHITECTURE §3): reads `bus.outbox` in `seq`
 * order and commits its offset in the same transaction as the handler's writes, so each event
 * has its effect exactly once. A RETRYing event is retried in place (the topic waits: per-key
 * order holds); malformed and DROPped events go to `bus.dead_letters` and the consumer moves on.
 */
export class EmbeddedConsumer {
  private readonly wakeSignal = new WakeSignal();
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private offset = '0';
  /** The last read was a full batch: more rows are below the known horizon, no need to refresh it. */
  private lastReadFull = false;

  constructor(
    readonly subscription: Subscription,
    private readonly options: EmbeddedConsumerOptions,
  ) {}

  private get log(): Logger {
    return this.options.logger;
  }

  /** Loads (or creates) the group's offset and starts consuming in the background. */
  async start(): Promise<void> {
    const em = this.options.db.fork();
    const { group, topic } = this.subscription;
    await executeSql(em, 'insert into bus.consumer_offsets (consumer_group, topic, seq) values (?, ?, ?) on conflict do nothing', [
      group,
      topic,
      await this.startPosition(),
    ]);
    this.offset = await this.committedOffset();
    this.loop = this.run();
  }

  /** Offset of a new group (`Subscription.startAt`). */
  private async startPosition(): Promise<string> {
    const startAt = this.subscription.startAt ?? 'earliest';
    if (startAt === 'earliest') return '0';
    if (startAt === 'latest') return (await this.options.horizon.refresh()).toString();
    if (!/^\d{1,19}$/.test(startAt.after)) throw new Error(`startAt.after must be a log position, got ${startAt.after}`);
    return startAt.after;
  }

  /** New events may be in the log. */
  wake(): void {
    this.wakeSignal.notify();
  }

  /** Stops after the event in hand (its transaction commits or rolls back as a whole). */
  async close(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  /** Events of the topic after the group's committed offset. */
  async lag(): Promise<number> {
    const { rows } = await executeSql<{ lag: string }>(
      this.options.db.fork(),
      `select count(*) as lag from bus.outbox o
        where o.topic = ? and o.seq > coalesce((select seq from bus.consumer_offsets where consumer_group = ? and topic = ?), 0)`,
      [this.subscription.topic, this.subscription.group, this.subscription.topic],
    );
    return Number(rows[0]?.lag ?? 0);
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    const readBackoff = new Backoff(this.options.backoff);
    const horizonPoll = new Backoff(HORIZON_POLL);
    while (!signal.aborted) {
      this.wakeSignal.clear();
      let rows: OutboxRow[];
      try {
        rows = await this.readBatch();
        readBackoff.reset();
      } catch (error) {
        this.log.error({ err: error, group: this.subscription.group, topic: this.subscription.topic }, 'reading the bus log failed');
        await sleep(readBackoff.next(), signal);
        continue;
      }
      if (rows.length === 0) {
        if (this.options.horizon.behind) {
          // Committed rows wait for transactions that were running when they appeared; those commit
          // or abort without a NOTIFY of ours, so look again shortly.
          await this.wakeSignal.wait(signal, horizonPoll.next());
          continue;
        }
        this.options.metrics.consumerLag.set({ group: this.subscription.group }, 0);
        await this.wakeSignal.wait(signal);
        continue;
      }
      horizonPoll.reset();
      for (const row of rows) {
        if (signal.aborted) break;
        await this.processWithRetry(row);
      }
    }
  }

  /** The next rows of the topic after the offset, up to the log horizon, in `seq` order. */
  private async readBatch(): Promise<OutboxRow[]> {
    const { horizon, batchSize } = this.options;
    // A refresh takes a snapshot after the wake signal was cleared, so no NOTIFY is lost; after a
    // full batch the known horizon still has rows for us.
    let upto = this.lastReadFull ? horizon.known : 0n;
    if (BigInt(this.offset) >= upto) upto = await horizon.refresh();
    if (BigInt(this.offset) >= upto) {
      this.lastReadFull = false;
      return [];
    }
    const { rows } = await executeSql<OutboxRow>(
      this.options.db.fork(),
      `select ${OUTBOX_COLUMNS} from bus.outbox where topic = ? and seq > ? and seq <= ? order by seq limit ?`,
      [this.subscription.topic, this.offset, upto.toString(), batchSize],
    );
    this.lastReadFull = rows.length === batchSize;
    return rows;
  }

  /** Retries one event in place until it is done or the consumer closes. */
  private async processWithRetry(row: OutboxRow): Promise<void> {
    const backoff = new Backoff(this.options.backoff);
    while (!this.abort.signal.aborted) {
      if ((await this.processOnce(row)) === 'done') return;
      await sleep(backoff.next(), this.abort.signal);
    }
  }

  private count(status: string): void {
    this.options.metrics.eventsConsumed.inc({ topic: this.subscription.topic, group: this.subscription.group, status });
  }

  private async processOnce(row: OutboxRow): Promise<Outcome> {
    const { group, topic, types, handler } = this.subscription;
    const seq = String(row.seq);
    // Another process of the group already moved past it (see claimOffset).
    if (BigInt(seq) <= BigInt(this.offset)) return 'done';
    if (types && !types.includes(row.type as EventType)) {
      try {
        if (!(await this.claimOffset(this.options.db.fork(), seq))) return this.resync();
        this.offset = seq;
        this.count('SKIPPED');
        return 'done';
      } catch (error) {
        this.log.error({ err: error, group, topic, seq }, 'advancing the offset failed');
        return 'retry';
      }
    }
    const parsed = validateData(row.type as EventType, row.data, rowMeta(row));
    if (!parsed.ok) return this.deadLetter(row, parsed.reason);
    const event = parsed.event;
    let result: HandlerResult;
    try {
      await this.options.db.fork().transactional(async (tx) => {
        if (!(await this.claimOffset(tx, seq))) throw new Rollback(ALREADY_HANDLED);
        const handled = await handler(event, tx);
        if (handled.status !== 'SUCCESS') throw new Rollback(handled);
      });
      result = { status: 'SUCCESS' };
    } catch (error) {
      if (error instanceof Rollback && error.outcome === ALREADY_HANDLED) return this.resync();
      result = error instanceof Rollback ? (error.outcome as HandlerResult) : { status: 'RETRY', reason: errorMessage(error) };
      if (!(error instanceof Rollback))
        this.log.error({ err: error, group, topic, eventId: row.id, seq }, 'event handler failed; will retry');
    }
    switch (result.status) {
      case 'SUCCESS':
        this.offset = seq;
        this.count('SUCCESS');
        return 'done';
      case 'DROP':
        return this.deadLetter(row, result.reason ?? 'dropped by handler');
      default:
        this.count('RETRY');
        this.log.info({ group, topic, eventId: row.id, seq, reason: result.reason }, 'event will be retried');
        return 'retry';
    }
  }

  /** Dead letter + offset in one transaction (the handler's own writes, if any, were rolled back). */
  private async deadLetter(row: OutboxRow, reason: string): Promise<Outcome> {
    const { group, topic } = this.subscription;
    const seq = String(row.seq);
    try {
      await this.options.db.fork().transactional(async (tx) => {
        if (!(await this.claimOffset(tx, seq))) throw new Rollback(ALREADY_HANDLED);
        await recordDeadLetter(tx, this.log, { group, topic, eventId: row.id, seq, reason, event: rowSnapshot(row) });
      });
    } catch (error) {
      if (error instanceof Rollback && error.outcome === ALREADY_HANDLED) return this.resync();
      this.log.error({ err: error, group, topic, seq }, 'recording a dead letter failed');
      return 'retry';
    }
    this.offset = seq;
    this.count('DROP');
    return 'done';
  }

  /**
   * Moves the group's offset from the one this consumer read (`this.offset`) to `seq` inside `em`'s
   * transaction, which also locks the offset row until commit. Compare-and-set: false when another
   * process of the same group moved the offset meanwhile — it committed this event (or one after
   * it) first, or it will retry one before it — so competing consumers stay exactly-once and in
   * order. Rolled back with the handler's writes on RETRY.
   */
  private async claimOffset(em: EntityManager, seq: string): Promise<boolean> {
    const { affectedRows } = await executeSql(
      em,
      'update bus.consumer_offsets set seq = ?, updated_at = now() where consumer_group = ? and topic = ? and seq = ?',
      [seq, this.subscription.group, this.subscription.topic, this.offset],
    );
    return affectedRows === 1;
  }

  /** Another process of the group moved the offset: continue from the committed one. */
  private async resync(): Promise<Outcome> {
    try {
      this.offset = await this.committedOffset();
      return 'done';
    } catch (error) {
      this.log.error({ err: error }, 'reading the offset failed');
      return 'retry';
    }
  }

  private async committedOffset(): Promise<string> {
    const { rows } = await executeSql<{ seq: string }>(
      this.options.db.fork(),
      'select seq from bus.consumer_offsets where consumer_group = ? and topic = ?',
      [this.subscription.group, this.subscription.topic],
    );
    return String(rows[0]?.seq ?? '0');
  }
}
