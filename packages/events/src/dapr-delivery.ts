import type { Database, EntityManager, Logger, Metrics } from '@taskgraph/runtime';
import type { HandlerResult, HandlerStatus, Subscription } from './bus.js';
import { recordDeadLetter, storableText } from './dead-letters.js';
import { type DeliveredEvent, parseCloudEvent } from './envelope.js';
import { errorMessage } from './error-message.js';
import type { Topic } from './topics.js';
import { executeSql, Rollback } from './tx-sql.js';

export interface DaprDeliveryOptions {
  db: Database;
  logger: Logger;
  metrics: Metrics;
}

const ALREADY_PROCESSED = Symbol('already processed');

/**
 * Handles one Dapr delivery (ARCHITECTURE §5) for every group of this service subscribed to its topic.
 * Never throws: malformed → DROP, handler error → RETRY. Each group dedupes on the event id in
 * `bus.processed_events`, inserted in the same transaction as the handler's writes, so a
 * redelivered event (at-least-once) has its effect once; a group that already has it is not
 * called again when another group asked for a RETRY. Combined reply: any RETRY → RETRY, else any
 * DROP → DROP (Dapr routes it to `<topic>-dlq`), else SUCCESS.
 */
export async function handleDelivery(
  options: DaprDeliveryOptions,
  topic: Topic,
  subscriptions: Subscription[],
  body: Buffer,
): Promise<HandlerStatus> {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    json = undefined;
  }
  const parsed = json === undefined ? ({ ok: false, reason: 'body is not JSON' } as const) : parseCloudEvent(json, topic);
  if (!parsed.ok) {
    const rawId = (json as { id?: unknown } | undefined)?.id;
    // The id keys the once-per-group marker (a `text` column): keep it storable.
    const eventId = typeof rawId === 'string' ? storableText(rawId) : undefined;
    let recorded = true;
    for (const subscription of subscriptions) {
      recorded =
        (await deadLetterOnce(options, subscription, eventId, undefined, parsed.reason, json ?? body.toString('utf8'))) && recorded;
    }
    return recorded ? 'DROP' : 'RETRY';
  }
  const statuses: HandlerStatus[] = [];
  for (const subscription of subscriptions) statuses.push(await handleForGroup(options, subscription, parsed.event));
  if (statuses.includes('RETRY')) return 'RETRY';
  if (statuses.includes('DROP')) return 'DROP';
  return 'SUCCESS';
}

async function handleForGroup(options: DaprDeliveryOptions, subscription: Subscription, event: DeliveredEvent): Promise<HandlerStatus> {
  const { group, topic, types, handler } = subscription;
  const count = (status: string) => options.metrics.eventsConsumed.inc({ topic, group, status });
  if (types && !types.includes(event.type)) {
    count('SKIPPED');
    return 'SUCCESS';
  }
  let result: HandlerResult;
  try {
    await options.db.fork().transactional(async (tx) => {
      if (!(await markProcessed(tx, group, event.id))) throw new Rollback(ALREADY_PROCESSED);
      const handled = await handler(event, tx);
      if (handled.status !== 'SUCCESS') throw new Rollback(handled);
    });
    result = { status: 'SUCCESS' };
  } catch (error) {
    if (error instanceof Rollback && error.outcome === ALREADY_PROCESSED) {
      count('DUPLICATE');
      options.logger.debug({ group, topic, eventId: event.id }, 'duplicate delivery skipped');
      return 'SUCCESS';
    }
    if (error instanceof Rollback) {
      result = error.outcome as HandlerResult;
    } else {
      options.logger.error({ err: error, group, topic, eventId: event.id }, 'event handler failed; asking Dapr to retry');
      result = { status: 'RETRY', reason: errorMessage(error) };
    }
  }
  if (result.status === 'DROP') {
    const recorded = await deadLetterOnce(options, subscription, event.id, event.seq, result.reason ?? 'dropped by handler', event);
    return recorded ? 'DROP' : 'RETRY';
  }
  count(result.status);
  if (result.status === 'RETRY') options.logger.info({ group, topic, eventId: event.id, reason: result.reason }, 'event will be retried');
  return result.status;
}

/** Processed marker + dead letter in one transaction; false when that could not be stored. */
async function deadLetterOnce(
  options: DaprDeliveryOptions,
  subscription: Subscription,
  eventId: string | undefined,
  seq: string | undefined,
  reason: string,
  event: unknown,
): Promise<boolean> {
  const { group, topic } = subscription;
  try {
    await options.db.fork().transactional(async (tx) => {
      // A redelivered malformed/dropped event is dead-lettered once per group.
      if (eventId !== undefined && !(await markProcessed(tx, group, eventId))) return;
      await recordDeadLetter(tx, options.logger, { group, topic, eventId, seq: seq === '0' ? undefined : seq, reason, event });
    });
    options.metrics.eventsConsumed.inc({ topic, group, status: 'DROP' });
    return true;
  } catch (error) {
    options.logger.error({ err: error, group, topic, eventId }, 'recording a dead letter failed');
    return false;
  }
}

/** Inserts the (group, event id) marker; false when it was already there (duplicate delivery). */
async function markProcessed(tx: EntityManager, group: string, eventId: string): Promise<boolean> {
  const { affectedRows } = await executeSql(
    tx,
    'insert into bus.processed_events (consumer_group, event_id) values (?, ?) on conflict do nothing',
    [group, eventId],
  );
  return affectedRows > 0;
}
