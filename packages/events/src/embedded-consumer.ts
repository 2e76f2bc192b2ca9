import type { Database, EntityManager, Logger, Metrics } from '@taskgraph/runtime';
import { Backoff, type BackoffOptions, sleep } from './backoff.js';
import type { HandlerResult, Subscription } from './bus.js';
import { recordDeadLetter } from './dead-letters.js';
import { validateData } from './envelope.js';
import { errorMessage } from './error-message.js';
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
}

/** What one event of a batch came to, inside the batch's transaction. */
type Delivery = 'SUCCESS' | 'DROP' | 'SKIPPED' | 'RETRY';
/** Where a batch attempt left off: `next` = first row not committed; `stalled` = retry it after a back-off. */
type Step = { next: number; stalled: boolean } | 'resync';
/** Another process of the same group committed this event first. */
const ALREADY_HANDLED = Symbol('already handled');
/** The batch's first event must be retried: nothing to commit. */
const NOTHING_DONE = Symbol('nothing done');

/**
 * One consumer group on one topic of the embedded log (DESIGN §3): reads `bus.outbox` in `seq`
 * order and commits its offset in the same transaction as the handler's writes, so each event
 * has its effect exactly once. A RETRYing event is retried in place (the topic waits: per-key
 * order holds); malformed and DROPped events go to `bus.dead_letters` and the consumer moves on.
 */
export class EmbeddedConsumer {
  private readonly wakeSignal = new WakeSignal();
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private offset = '0';

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
    await executeSql(em, 'insert into bus.consumer_offsets (consumer_group, topic) values (?, ?) on conflict do nothing', [group, topic]);
    this.offset = await this.committedOffset();
    this.loop = this.run();
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
        this.options.metrics.consumerLag.set({ group: this.subscription.group }, 0);
        await this.wakeSignal.wait(signal);
        continue;
      }
      await this.processBatch(rows);
    }
  }

  private async readBatch(): Promise<OutboxRow[]> {
    const { rows } = await executeSql<OutboxRow>(
      this.options.db.fork(),
      `select ${OUTBOX_COLUMNS} from bus.outbox where topic = ? and seq > ? order by seq limit ?`,
      [this.subscription.topic, this.offset, this.options.batchSize],
    );
    return rows;
  }

  /**
   * Handles a read batch in as few transactions as it takes: one, unless an event asks to be
   * retried — then what came before it commits, and it is retried in place (the topic waits:
   * per-key order holds) before the rest of the batch. Returns to re-read when another process of
   * the group moved the offset.
   */
  private async processBatch(rows: OutboxRow[]): Promise<void> {
    const backoff = new Backoff(this.options.backoff);
    let index = 0;
    while (index < rows.length && !this.abort.signal.aborted) {
      // Another process of the group already moved past it (see claimOffset).
      if (BigInt(String(rows[index]!.seq)) <= BigInt(this.offset)) {
        index += 1;
        continue;
      }
      const step = await this.processFrom(rows, index);
      if (step === 'resync') return;
      if (step.next !== index) backoff.reset();
      index = step.next;
      if (step.stalled) await sleep(backoff.next(), this.abort.signal);
    }
  }

  private count(status: string): void {
    this.options.metrics.eventsConsumed.inc({ topic: this.subscription.topic, group: this.subscription.group, status });
  }

  /**
   * One transaction for `rows[start..]`: claims the offset up to the batch's last event (the
   * compare-and-set that also locks the offset row, so a replica of the group waits instead of
   * handling the same events), runs each handler in its own savepoint and stops at the first event
   * to retry; the offset then moves back to the last event handled, so the handlers' writes, the
   * dead letters and the offset commit together or not at all (exactly once). A failed commit
   * commits nothing: the same rows are tried again.
   */
  private async processFrom(rows: OutboxRow[], start: number): Promise<Step> {
    const { group, topic } = this.subscription;
    const last = String(rows[rows.length - 1]!.seq);
    const delivered: Delivery[] = [];
    let stalled = false;
    let reached = this.offset;
    try {
      await this.options.db.fork().transactional(async (tx) => {
        if (!(await this.claimOffset(tx, last))) throw new Rollback(ALREADY_HANDLED);
        for (let i = start; i < rows.length; i++) {
          if (i > start && this.abort.signal.aborted) break;
          const delivery = await this.deliver(tx, rows[i]!);
          if (delivery === 'RETRY') {
            stalled = true;
            break;
          }
          delivered.push(delivery);
        }
        if (delivered.length === 0) throw new Rollback(NOTHING_DONE);
        reached = String(rows[start + delivered.length - 1]!.seq);
        // We hold the offset row since the claim: moving it back cannot conflict.
        if (reached !== last && !(await this.claimOffset(tx, reached, last))) throw new Error('the claimed offset moved');
      });
    } catch (error) {
      if (error instanceof Rollback && error.outcome === ALREADY_HANDLED)
        return (await this.resync()) ? 'resync' : { next: start, stalled: true };
      if (!(error instanceof Rollback && error.outcome === NOTHING_DONE))
        this.log.error({ err: error, group, topic, seq: String(rows[start]!.seq) }, 'committing a batch of events failed; will retry');
      return { next: start, stalled: true };
    }
    this.offset = reached;
    for (const delivery of delivered) this.count(delivery);
    return { next: start + delivered.length, stalled };
  }

  /**
   * One event inside the batch's transaction `tx`. The handler runs in a savepoint (MikroORM nested
   * `transactional`): SUCCESS releases it, DROP and RETRY (or a throw) roll back to it, so only
   * this event's writes are undone. Dead letters are written in `tx`.
   */
  private async deliver(tx: EntityManager, row: OutboxRow): Promise<Delivery> {
    const { group, topic, types, handler } = this.subscription;
    const seq = String(row.seq);
    if (types && !types.includes(row.type as EventType)) return 'SKIPPED';
    const parsed = validateData(row.type as EventType, row.data, rowMeta(row));
    if (!parsed.ok) return this.deadLetter(tx, row, parsed.reason);
    const event = parsed.event;
    let result: HandlerResult;
    let handlerEm: EntityManager | undefined;
    try {
      await tx.transactional(async (inner) => {
        handlerEm = inner;
        const handled = await handler(event, inner);
        if (handled.status !== 'SUCCESS') throw new Rollback(handled);
      });
      result = { status: 'SUCCESS' };
    } catch (error) {
      result = error instanceof Rollback ? (error.outcome as HandlerResult) : { status: 'RETRY', reason: errorMessage(error) };
      if (!(error instanceof Rollback))
        this.log.error({ err: error, group, topic, eventId: row.id, seq }, 'event handler failed; will retry');
    }
    switch (result.status) {
      case 'SUCCESS':
        if (handlerEm) adoptCommitHooks(handlerEm, tx);
        // The savepoint merged the handler's entities into `tx`; the next handler starts clean.
        tx.clear();
        return 'SUCCESS';
      case 'DROP':
        return this.deadLetter(tx, row, result.reason ?? 'dropped by handler');
      default:
        this.count('RETRY');
        this.log.info({ group, topic, eventId: row.id, seq, reason: result.reason }, 'event will be retried');
        return 'RETRY';
    }
  }

  /** Dead letter in the batch's transaction (the handler's own writes, if any, were rolled back). */
  private async deadLetter(tx: EntityManager, row: OutboxRow, reason: string): Promise<Delivery> {
    const { group, topic } = this.subscription;
    await recordDeadLetter(tx, this.log, { group, topic, eventId: row.id, seq: String(row.seq), reason, event: rowSnapshot(row) });
    return 'DROP';
  }

  /**
   * Moves the group's offset from the one this consumer read (`this.offset`) to `seq` inside `em`'s
   * transaction, which also locks the offset row until commit. Compare-and-set: false when another
   * process of the same group moved the offset meanwhile — it committed this event (or one after
   * it) first, or it will retry one before it — so competing consumers stay exactly-once and in
   * order. Within a batch the claim is taken to the batch's last event first and moved back (from
   * `from`, the claimed one) when the batch stops early.
   */
  private async claimOffset(em: EntityManager, seq: string, from = this.offset): Promise<boolean> {
    const { affectedRows } = await executeSql(
      em,
      'update bus.consumer_offsets set seq = ?, updated_at = now() where consumer_group = ? and topic = ? and seq = ?',
      [seq, this.subscription.group, this.subscription.topic, from],
    );
    return affectedRows === 1;
  }

  /** Another process of the group moved the offset: continue from the committed one. */
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
    const { rows } = await executeSql<{ seq: string }>(
      this.options.db.fork(),
      'select seq from bus.consumer_offsets where consumer_group = ? and topic = ?',
      [this.subscription.group, this.subscription.topic],
    );
    return String(rows[0]?.seq ?? '0');
  }
}

/**
 * Hooks the handler registered on its savepoint's EntityManager (e.g. `afterTransactionCommit`
 * in sync's `afterCommit`) fire only for a top-level commit: hand them to the batch's transaction,
 * so they run when it commits — and never when it rolls back. Each event's hooks run after a turn
 * of the event loop, as they did with one commit per event: a batch's after-commit effects (sync's
 * live pushes) must not land on their receivers as one burst of up to `batchSize`.
 */
function adoptCommitHooks(handlerEm: EntityManager, tx: EntityManager): void {
  const batchHooks = tx.getEventManager();
  const known = batchHooks.getSubscribers();
  const added = [...handlerEm.getEventManager().getSubscribers()].filter((subscriber) => !known.has(subscriber));
  if (added.length === 0) return;
  batchHooks.registerSubscriber({
    afterTransactionCommit: async (args) => {
      await new Promise<void>((resolve) => setImmediate(resolve));
      for (const subscriber of added) await subscriber.afterTransactionCommit?.(args);
    },
    afterTransactionRollback: async (args) => {
      for (const subscriber of added) await subscriber.afterTransactionRollback?.(args);
    },
  });
}
