import type { Database, EntityManager, Logger, Metrics } from '@taskgraph/runtime';
import type { HandlerResult, Subscription } from './bus.js';
import { collectEffects, runEffect } from './commit-effects.js';
import { recordDeadLetter } from './dead-letters.js';
import { validateData } from './envelope.js';
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
export type BatchStep = { handled: number; offset: string; stalled: boolean } | 'resync';

/** What one event of a batch came to, inside the batch's transaction. */
type Delivery = 'SUCCESS' | 'DROP' | 'SKIPPED' | 'RETRY';

const ALREADY_HANDLED = Symbol('already handled');
const NOTHING_DONE = Symbol('nothing done');

/**
 * Handles `rows` (in log order, all after the group's offset) in one transaction (ARCHITECTURE §3):
 *
 * 1. claims the offset up to the last row first — the compare-and-set locks the group's offset row,
 *    so a replica of the group waits instead of running the same handlers (exactly once);
 * 2. runs each handler in its own savepoint (MikroORM's nested `transactional`): SUCCESS releases
 *    it; DROP (or a malformed event) rolls back to it and writes a dead letter in the batch; RETRY
 *    or a throw rolls back to it and ends the batch there;
 * 3. moves the offset back to the last event handled when the batch ended early (a RETRY, the
 *    `maxBatchMs` budget, or closing), and commits: the handlers' writes, the dead letters and the
 *    offset commit together or not at all. A failed commit commits nothing; the rows are tried again;
 * 4. after the commit, runs the handled events' after-commit effects (`onCommit`) in log order —
 *    never those of an event whose savepoint was rolled back.
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
      for (const row of rows) {
        if (delivered.length > 0 && (ctx.aborted() || performance.now() - started > ctx.maxBatchMs)) break;
        const delivery = await deliver(ctx, tx, row, batchEffects);
        if (delivery === 'RETRY') {
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
    if (!(error instanceof Rollback && error.outcome === NOTHING_DONE))
      ctx.logger.error({ err: error, group, topic, seq: String(rows[0]!.seq) }, 'committing a batch of events failed; will retry');
    return { handled: 0, offset: ctx.offset, stalled: true };
  }
  for (const delivery of delivered) ctx.metrics.eventsConsumed.inc({ topic, group, status: delivery });
  for (const effect of effects) runEffect(effect);
  return { handled: delivered.length, offset: reached, stalled };
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
