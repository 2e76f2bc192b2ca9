import type { Database, EntityManager, Logger, Metrics } from '@taskgraph/runtime';
import type { HandlerResult, Subscription } from './bus.js';
import { collectEffects, runEffect } from './commit-effects.js';
import { recordDeadLetter } from './dead-letters.js';
import { type DeliveredEvent, validateData } from './envelope.js';
import { errorMessage } from './error-message.js';
import { type OutboxRow, rowMeta, rowSnapshot } from './outbox-row.js';
import type { EventType } from './schemas.js';
import { Rollback } from './tx-sql.js';

/** What the batch needs from its consumer. */
export interface BatchContext {
  db: Database;
  logger: Logger;
  metrics: Metrics;
  subscription: Subscription;
  /** The group's offset as this consumer last committed or read it. */
  offset: string;
  maxBatchMs: number;
  aborted(): boolean;
  /** Compare-and-set of the group's offset from `from` to `seq` inside `tx` (locks the offset row). */
  claim(tx: EntityManager, seq: string, from: string): Promise<boolean>;
}

/** Where a batch left off: events handled and committed (a prefix), the new offset, and whether the next one must wait (RETRY). */
export type BatchStep =
  | {
      handled: number;
      offset: string;
      stalled: boolean;
      /** Nothing committed: take only this many rows next (an event to retry sat among the batch handler's). */
      redo?: number;
    }
  | 'resync';

/** What one event of a batch came to, inside the batch's transaction. */
type Delivery = 'SUCCESS' | 'DROP' | 'SKIPPED' | 'RETRY';

const ALREADY_HANDLED = Symbol('already handled');
const NOTHING_DONE = Symbol('nothing done');

/**
 * Handles `rows` (in log order, all after the group's offset) in one transaction (ARCHITECTURE §3):
 *
 * 1. claims the offset up to the last row first — the compare-and-set locks the group's offset row,
 *    so a replica of the group waits instead of running the same handlers (exactly once);
 * 2. when the subscription has a `batchHandler`, gives it the batch's events in one savepoint
 *    (a few statements per batch instead of a few per event); the events it reports handled are
 *    done (if it throws, it is rolled back to its savepoint and reports none);
 * 3. runs the handler of every other event in its own savepoint (MikroORM's nested `transactional`),
 *    so no handler runs twice for one commit: SUCCESS releases
 *    it; DROP (or a malformed event) rolls back to it and writes a dead letter in the batch; RETRY
 *    or a throw rolls back to it and ends the batch there;
 * 4. moves the offset back to the last event handled when the batch ended early (a RETRY, the
 *    `maxBatchMs` budget, or closing), and commits: the handlers' writes, the dead letters and the
 *    offset commit together or not at all. A failed commit commits nothing; the rows are tried again;
 * 5. after the commit, runs the after-commit effects (`onCommit`): the batch handler's first, then
 *    the other events' in log order — never those of an event whose savepoint was rolled back.
 */
export async function handleBatch(ctx: BatchContext, rows: OutboxRow[]): Promise<BatchStep> {
  const { group, topic } = ctx.subscription;
  const last = String(rows[rows.length - 1]!.seq);
  const delivered: Delivery[] = [];
  const effects: (() => void)[] = [];
  let stalled = false;
  let reached = ctx.offset;
  try {
    await ctx.db.fork().transactional(async (tx) => {
      if (!(await ctx.claim(tx, last, ctx.offset))) throw new Rollback(ALREADY_HANDLED);
      const started = performance.now();
      const batchEffects: (() => void)[] = [];
      const done = await batchPath(ctx, tx, rows, batchEffects);
      // The batch handler's events commit with this batch: the budget may end it only after them.
      const lastDone = rows.findLastIndex((row) => done.has(row.id));
      for (const [index, row] of rows.entries()) {
        if (index > lastDone && delivered.length > 0 && (ctx.aborted() || performance.now() - started > ctx.maxBatchMs)) break;
        if (done.has(row.id)) {
          delivered.push('SUCCESS');
          continue;
        }
        const delivery = await deliver(ctx, tx, row, batchEffects);
        if (delivery === 'RETRY') {
          // Events after this one that the batch handler took must not commit before it: redo the
          // rows before it alone (or, when it is first, it alone).
          if (index < lastDone) throw new Rollback({ redo: Math.max(index, 1) });
          stalled = true;
          break;
        }
        delivered.push(delivery);
      }
      if (delivered.length === 0) throw new Rollback(NOTHING_DONE);
      reached = String(rows[delivered.length - 1]!.seq);
      // The offset row is ours since the claim: moving it back cannot conflict.
      if (reached !== last && !(await ctx.claim(tx, reached, last))) throw new Error('the claimed offset moved');
      effects.push(...batchEffects);
    });
  } catch (error) {
    if (error instanceof Rollback && error.outcome === ALREADY_HANDLED) return 'resync';
    if (error instanceof Rollback && typeof error.outcome === 'object' && error.outcome !== null && 'redo' in error.outcome)
      return { handled: 0, offset: ctx.offset, stalled: false, redo: (error.outcome as { redo: number }).redo };
    if (!(error instanceof Rollback && error.outcome === NOTHING_DONE))
      ctx.logger.error({ err: error, group, topic, seq: String(rows[0]!.seq) }, 'committing a batch of events failed; will retry');
    return { handled: 0, offset: ctx.offset, stalled: true };
  }
  for (const delivery of delivered) ctx.metrics.eventsConsumed.inc({ topic, group, status: delivery });
  for (const effect of effects) runEffect(effect);
  return { handled: delivered.length, offset: reached, stalled };
}

/**
 * The subscription's `batchHandler` over the batch's well-formed events, in one savepoint of
 * `tx`: the ids of the events it handled (their after-commit effects added to `effects`), or none
 * when it failed (rolled back to the savepoint; the handler takes every event, one by one).
 */
async function batchPath(ctx: BatchContext, tx: EntityManager, rows: OutboxRow[], effects: (() => void)[]): Promise<ReadonlySet<string>> {
  const { types, batchHandler } = ctx.subscription;
  if (!batchHandler) return new Set();
  const events: DeliveredEvent[] = [];
  for (const row of rows) {
    if (types && !types.includes(row.type as EventType)) continue;
    const parsed = validateData(row.type as EventType, row.data, rowMeta(row));
    if (parsed.ok) events.push(parsed.event);
  }
  if (events.length < 2) return new Set();
  let collected: (() => void)[] = [];
  let done: ReadonlySet<string> = new Set();
  try {
    await tx.transactional(async (inner) => {
      const take = collectEffects(inner);
      try {
        done = await batchHandler(events, inner);
      } finally {
        collected = take();
      }
    });
  } catch (error) {
    ctx.logger.warn({ err: error, group: ctx.subscription.group }, 'a batch handler failed; handling the events one by one');
    tx.clear();
    return new Set();
  }
  tx.clear();
  if (done.size > 0) effects.push(...collected);
  return done;
}

/** One event inside the batch's transaction `tx`; its after-commit effects go to `effects` on SUCCESS only. */
async function deliver(ctx: BatchContext, tx: EntityManager, row: OutboxRow, effects: (() => void)[]): Promise<Delivery> {
  const { group, topic, types, handler } = ctx.subscription;
  const seq = String(row.seq);
  if (types && !types.includes(row.type as EventType)) return 'SKIPPED';
  const parsed = validateData(row.type as EventType, row.data, rowMeta(row));
  if (!parsed.ok) return deadLetter(ctx, tx, row, parsed.reason);
  let result: HandlerResult;
  let collected: (() => void)[] = [];
  try {
    await tx.transactional(async (inner) => {
      const take = collectEffects(inner);
      try {
        const handled = await handler(parsed.event, inner);
        if (handled.status !== 'SUCCESS') throw new Rollback(handled);
      } finally {
        collected = take();
      }
    });
    result = { status: 'SUCCESS' };
  } catch (error) {
    result = error instanceof Rollback ? (error.outcome as HandlerResult) : { status: 'RETRY', reason: errorMessage(error) };
    if (!(error instanceof Rollback))
      ctx.logger.error({ err: error, group, topic, eventId: row.id, seq }, 'event handler failed; will retry');
  }
  switch (result.status) {
    case 'SUCCESS':
      effects.push(...collected);
      // The savepoint's entities were merged into `tx`; the next handler starts from a clean identity map.
      tx.clear();
      return 'SUCCESS';
    case 'DROP':
      tx.clear();
      return deadLetter(ctx, tx, row, result.reason ?? 'dropped by handler');
    default:
      ctx.metrics.eventsConsumed.inc({ topic, group, status: 'RETRY' });
      ctx.logger.info({ group, topic, eventId: row.id, seq, reason: result.reason }, 'event will be retried');
      return 'RETRY';
  }
}

/** Dead letter in the batch's transaction (the handler's own writes, if any, were rolled back to its savepoint). */
async function deadLetter(ctx: BatchContext, tx: EntityManager, row: OutboxRow, reason: string): Promise<Delivery> {
  const { group, topic } = ctx.subscription;
  await recordDeadLetter(tx, ctx.logger, { group, topic, eventId: row.id, seq: String(row.seq), reason, event: rowSnapshot(row) });
  return 'DROP';
}
