import { type Database, type EntityManager, type Logger, type Metrics, runStatement } from '@taskgraph/runtime';
import { Backoff, type BackoffOptions, sleep } from './backoff.js';
import { type BatchContext, handleBatch } from './batch-handler.js';
import type { Subscription } from './bus.js';
import type { LogHorizon } from './log-horizon.js';
import { OUTBOX_COLUMNS, type OutboxRow } from './outbox-row.js';
import { executeSql } from './tx-sql.js';
import { WakeSignal } from './wake-signal.js';

export interface EmbeddedConsumerOptions {
  db: Database;
  logger: Logger;
  metrics: Metrics;
  backoff: BackoffOptions;
  batchSize: number;
  /** Events handled per transaction at most (the read batch is split). */
  maxBatch: number;
  /** A batch transaction takes no new event after this long, so after-commit effects (live pushes) wait at most about this. */
  maxBatchMs: number;
  /** The process's log horizon, shared by its consumers: rows are read up to it only. */
  horizon: LogHorizon;
}

/** Re-check period while committed rows wait above the horizon (running transactions to end). */
const HORIZON_POLL = { initialMs: 1, maxMs: 20 };

/**
 * One consumer group on one topic of the embedded log (ARCHITECTURE §3): reads `bus.outbox` in `seq`
 * order up to the log horizon and commits its offset in the same transaction as the handlers'
 * writes, a batch of events per transaction, so each event has its effect exactly once. A
 * RETRYing event is retried in place (the topic waits: per-key order holds); malformed and
 * DROPped events go to `bus.dead_letters` and the consumer moves on.
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
      await this.processRows(rows);
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
    const { rows } = await runStatement<OutboxRow>(
      this.options.db.fork(),
      `select ${OUTBOX_COLUMNS} from bus.outbox where topic = $1 and seq > $2 and seq <= $3 order by seq limit $4`,
      [this.subscription.topic, this.offset, upto.toString(), batchSize],
      { prepared: true },
    );
    this.lastReadFull = rows.length === batchSize;
    return rows;
  }

  /**
   * Handles a read batch in as few transactions as it takes (`handleBatch`): usually one per
   * `maxBatch` events or `maxBatchMs`; when an event asks to be retried, what came before it
   * commits and it is retried in place with back-off (the topic waits: per-key order holds).
   * Returns to re-read when another process of the group moved the offset.
   */
  private async processRows(rows: OutboxRow[]): Promise<void> {
    const backoff = new Backoff(this.options.backoff);
    let index = 0;
    let take = this.options.maxBatch;
    while (index < rows.length && !this.abort.signal.aborted) {
      // Another process of the group already moved past it (see claimOffset).
      if (BigInt(String(rows[index]!.seq)) <= BigInt(this.offset)) {
        index += 1;
        continue;
      }
      const end = Math.min(rows.length, index + take);
      const step = await handleBatch(this.batchContext(), rows.slice(index, end));
      if (step === 'resync') {
        if (await this.resync()) return;
        await sleep(backoff.next(), this.abort.signal);
        continue;
      }
      take = step.redo ?? this.options.maxBatch;
      this.offset = step.offset;
      if (step.handled > 0) backoff.reset();
      index += step.handled;
      if (step.stalled) await sleep(backoff.next(), this.abort.signal);
    }
  }

  private batchContext(): BatchContext {
    return {
      db: this.options.db,
      logger: this.log,
      metrics: this.options.metrics,
      subscription: this.subscription,
      offset: this.offset,
      maxBatchMs: this.options.maxBatchMs,
      aborted: () => this.abort.signal.aborted,
      claim: (tx, seq, from) => this.claimOffset(tx, seq, from),
    };
  }

  /**
   * Moves the group's offset from the one this consumer read (`this.offset`) to `seq` inside `em`'s
   * transaction, which also locks the offset row until commit. Compare-and-set: false when another
   * process of the same group moved the offset meanwhile — it committed this event (or one after
   * it) first, or it will retry one before it — so competing consumers stay exactly-once and in
   * order. Rolled back with the handler's writes on RETRY.
   */
  private async claimOffset(em: EntityManager, seq: string, from: string): Promise<boolean> {
    const { affectedRows } = await runStatement(
      em,
      'update bus.consumer_offsets set seq = $1, updated_at = now() where consumer_group = $2 and topic = $3 and seq = $4',
      [seq, this.subscription.group, this.subscription.topic, from],
      { prepared: true },
    );
    return affectedRows === 1;
  }

  /** Another process of the group moved the offset: continue from the committed one. False when that failed. */
  private async resync(): Promise<boolean> {
    try {
      this.offset = await this.committedOffset();
      return true;
    } catch (error) {
      this.log.error({ err: error }, 'reading the offset failed');
      return false;
    }
  }

  private async committedOffset(): Promise<string> {
    // The row is back where this consumer was if retention removed it as abandoned (a process paused
    // for longer than the retention): never restart a group from the beginning of the log.
    const { rows } = await executeSql<{ seq: string }>(
      this.options.db.fork(),
      `with kept as (insert into bus.consumer_offsets (consumer_group, topic, seq) values (?, ?, ?) on conflict do nothing)
       select seq from bus.consumer_offsets where consumer_group = ? and topic = ?`,
      [this.subscription.group, this.subscription.topic, this.offset, this.subscription.group, this.subscription.topic],
    );
    return String(rows[0]?.seq ?? this.offset);
  }
}
