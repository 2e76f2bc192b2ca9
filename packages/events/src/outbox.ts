import { currentTraceparent, type EntityManager, inSpan, runStatement, SpanKind } from '@taskgraph/runtime';
import { type OutboxEvent, serviceOfSource } from './envelope.js';

/** NOTIFY channel raised when rows are appended (embedded consumers and the relay LISTEN on it). */
export const OUTBOX_CHANNEL = 'bus_outbox';

/**
 * Appends events to `bus.outbox` inside the caller's transaction (transactional outbox, ARCHITECTURE §3).
 *
 * Lock-free: producers never wait for each other. Rows may commit out of `seq` order; readers only
 * go as far as the log horizon (`LogHorizon`), below which no row can still appear, so nobody
 * skips a row committed late. Call it as the **last** write before commit: per key, a transaction
 * that read the previous version then draws a higher `seq` than the one that wrote it.
 */
export async function appendToOutbox(tx: EntityManager, events: readonly OutboxEvent[]): Promise<void> {
  if (events.length === 0) return;
  // One PRODUCER span per append; each row keeps its context, so consumers continue the trace.
  const service = serviceOfSource(events[0]!.source);
  await inSpan(service, 'outbox append', { kind: SpanKind.PRODUCER, attributes: { 'messaging.batch.message_count': events.length } }, () =>
    insertRows(tx, events, currentTraceparent()),
  );
}

async function insertRows(tx: EntityManager, events: readonly OutboxEvent[], traceparent: string | undefined): Promise<void> {
  if (!tx.getTransactionContext()) throw new Error('appendToOutbox must run inside a transaction');
  const values: unknown[] = [];
  const rows = events.map((e) => {
    const n = values.length;
    values.push(e.id, e.topic, e.key, e.type, JSON.stringify(e.data), e.occurredAt, e.source, e.traceparent ?? traceparent ?? null);
    return `($${n + 1}, $${n + 2}, $${n + 3}, $${n + 4}, $${n + 5}, $${n + 6}, $${n + 7}, $${n + 8})`;
  });
  // One statement, one round trip, values as bind parameters (prepared per row count). `seq` comes
  // from its default, bus.next_seq(), which gives the transaction its xid before drawing the number
  // (the horizon's proof relies on it).
  await runStatement(
    tx,
    `with appended as (
       insert into bus.outbox (id, topic, key, type, data, occurred_at, source, traceparent)
       select v.id::uuid, v.topic, v.key, v.type, v.data::jsonb, v.occurred_at::timestamptz, v.source, v.traceparent
       from (values ${rows.join(', ')}) as v (id, topic, key, type, data, occurred_at, source, traceparent)
       returning 1
     )
     select pg_notify('${OUTBOX_CHANNEL}', '') from (select count(*) from appended) as done`,
    values,
    { prepared: events.length <= 16 },
  );
}
