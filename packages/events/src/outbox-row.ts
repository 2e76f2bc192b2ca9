import type { DeliveredEvent, OutboxEvent } from './envelope.js';
import type { EventType } from './schemas.js';
import type { Topic } from './topics.js';

/** A `bus.outbox` row as read back (bigint `seq` arrives as a decimal string). */
export interface OutboxRow {
  seq: string;
  id: string;
  topic: string;
  key: string;
  type: string;
  data: unknown;
  occurred_at: Date | string;
  source: string;
  traceparent?: string | null;
}

export const OUTBOX_COLUMNS = 'seq, id, topic, key, type, data, occurred_at, source, traceparent';

export function isoTime(value: Date | string): string {
  return value instanceof Date ? value.toISOString() : new Date(value).toISOString();
}

/** The row as the event a producer appended (for the relay's CloudEvent). */
export function rowToOutboxEvent(row: OutboxRow): OutboxEvent {
  return {
    id: row.id,
    topic: row.topic as Topic,
    key: row.key,
    type: row.type as EventType,
    data: row.data as OutboxEvent['data'],
    occurredAt: isoTime(row.occurred_at),
    source: row.source,
    ...(row.traceparent ? { traceparent: row.traceparent } : {}),
  };
}

/** Envelope fields of a row, for `validateData`. */
export function rowMeta(row: OutboxRow): Omit<DeliveredEvent, 'type' | 'data'> {
  return {
    id: row.id,
    seq: String(row.seq),
    topic: row.topic as Topic,
    key: row.key,
    occurredAt: isoTime(row.occurred_at),
    ...(row.traceparent ? { traceparent: row.traceparent } : {}),
  };
}

/** JSON kept with a dead letter: the row as it was in the log. */
export function rowSnapshot(row: OutboxRow): Record<string, unknown> {
  return { ...rowToOutboxEvent(row), seq: String(row.seq) };
}
