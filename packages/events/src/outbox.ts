import { currentTraceparent, type EntityManager, inSpan, SpanKind } from '@taskgraph/runtime';
import type { OutboxEvent } from './envelope.js';

/** Advisory lock key serialising outbox appends, so `seq` order is commit order. */
export const OUTBOX_APPEND_LOCK = 7_301_001;
/** NOTIFY channel raised when rows are appended (embedded consumers and the relay LISTEN on it). */
export const OUTBOX_CHANNEL = 'bus_outbox';

/**
 * Appends events to `bus.outbox` inside the caller's transaction (transactional outbox, ARCHITECTURE §3).
 *
 * Call it as the **last** statement before commit: it takes a transaction-level advisory lock
 * held until commit, so a row with a lower `seq` can never become visible after one with a
 * higher `seq`. Consumers may then read the log in `seq` order without skipping late commits.
 */
export async function appendToOutbox(tx: EntityManager, events: readonly OutboxEvent[]): Promise<void> {
  if (events.length === 0) return;
  // One PRODUCER span per append; each row keeps its context, so consumers continue the trace.
  const service = serviceOfSource(events[0]!.source);
  await inSpan(service, 'outbox append', { kind: SpanKind.PRODUCER, attributes: { 'messaging.batch.message_count': events.length } }, () =>
    insertRows(tx, events, currentTraceparent()),
  );
}

/** `taskgraph/tasks` → `tasks` (the producing service, for its span). */
const serviceOfSource = (source: string | undefined): string => source?.split('/').pop() || 'taskgraph';

async function insertRows(tx: EntityManager, events: readonly OutboxEvent[], traceparent: string | undefined): Promise<void> {
  const connection = tx.getConnection();
  const ctx = tx.getTransactionContext();
  if (!ctx) throw new Error('appendToOutbox must run inside a transaction');
  const values: unknown[] = [OUTBOX_APPEND_LOCK];
  const rows = events.map((e) => {
    values.push(e.id, e.topic, e.key, e.type, JSON.stringify(e.data), e.occurredAt, e.source, e.traceparent ?? traceparent ?? null);
    return '(?, ?, ?, ?, ?, ?, ?, ?)';
  });
  // One statement, one round trip: the lock is held from here until commit, so everything between
  // taking it and committing is on the critical path of every producer. Rows are produced only
  // after the lock CTE ran, so `seq` (nextval in the insert) is always drawn under the lock.
  await connection.execute(
    `with lock as materialized (select pg_advisory_xact_lock(?)),
     appended as (
       insert into bus.outbox (id, topic, key, type, data, occurred_at, source, traceparent)
       select v.id::uuid, v.topic, v.key, v.type, v.data::jsonb, v.occurred_at::timestamptz, v.source, v.traceparent
       from (values ${rows.join(', ')}) as v (id, topic, key, type, data, occurred_at, source, traceparent) cross join lock
       returning 1
     )
     select pg_notify('${OUTBOX_CHANNEL}', '') from (select count(*) from appended) as done`,
    values,
    'run',
    ctx,
  );
}
