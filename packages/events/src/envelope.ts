import { z } from 'zod';
import { dataSchemaByType, type EventDataByType, type EventType } from './schemas.js';
import type { Topic } from './topics.js';

/** CloudEvents 1.0 structured envelope as it travels over Dapr (ARCHITECTURE §4–§5). */
export interface CloudEvent<T = unknown> {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  subject?: string;
  time: string;
  datacontenttype: 'application/json';
  data: T;
  /** Extension: log position of the event in the outbox (cursor for clients). */
  seq?: string;
  /** Extension: partition key (task id). */
  partitionkey?: string;
  topic?: string;
  pubsubname?: string;
  /** Distributed tracing extension (W3C Trace Context): the producing span; daprd replaces it with its own. */
  traceparent?: string;
  tracestate?: string;
}

/** An event as written to the outbox: `id` equals `data.eventId`. */
export interface OutboxEvent<K extends EventType = EventType> {
  id: string;
  topic: Topic;
  /** Partition key: the task id, so per-task order holds on Kafka. */
  key: string;
  type: K;
  data: EventDataByType[K];
  occurredAt: string;
  source: string;
  /** W3C `traceparent` of the span that appended it (absent when tracing is off). */
  traceparent?: string | undefined;
}

/** An event handed to a consumer, already validated. */
export interface DeliveredEvent<K extends EventType = EventType> {
  id: string;
  /** Log position (outbox seq) as a decimal string. */
  seq: string;
  topic: Topic;
  type: K;
  key: string;
  data: EventDataByType[K];
  occurredAt: string;
  /** W3C `traceparent` the event travelled with (outbox row, or the CloudEvent extension). */
  traceparent?: string | undefined;
}

/** `taskgraph/tasks` → `tasks`: the producing service named by an event's `source` (for its spans). */
export const serviceOfSource = (source: string | undefined): string => source?.split('/').pop() || 'taskgraph';

export function toCloudEvent(event: OutboxEvent, seq: string): CloudEvent {
  return {
    specversion: '1.0',
    id: event.id,
    source: event.source,
    type: event.type,
    subject: event.key,
    time: event.occurredAt,
    datacontenttype: 'application/json',
    data: event.data,
    seq,
    partitionkey: event.key,
    ...(event.traceparent ? { traceparent: event.traceparent } : {}),
  };
}

const cloudEventSchema = z.object({
  specversion: z.literal('1.0'),
  id: z.string().min(1),
  source: z.string().min(1),
  type: z.string().min(1),
  subject: z.string().optional(),
  time: z.string().optional(),
  data: z.unknown(),
  seq: z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).optional(),
  traceparent: z.string().max(256).optional(),
});

export type ParseResult = { ok: true; event: DeliveredEvent } | { ok: false; reason: string };

/** Validates an incoming CloudEvent and its `data` against the contract; never throws. */
export function parseCloudEvent(body: unknown, topic: Topic): ParseResult {
  const envelope = cloudEventSchema.safeParse(body);
  if (!envelope.success) return { ok: false, reason: `invalid CloudEvent: ${envelope.error.issues[0]?.message ?? 'unknown'}` };
  const ce = envelope.data;
  const schema = (dataSchemaByType as Record<string, z.ZodType | undefined>)[ce.type];
  if (!schema) return { ok: false, reason: `unknown event type ${ce.type}` };
  return validateData(ce.type as EventType, ce.data, {
    id: ce.id,
    seq: ce.seq === undefined ? '0' : String(ce.seq),
    topic,
    key: ce.subject ?? '',
    occurredAt: ce.time ?? new Date().toISOString(),
    ...(ce.traceparent ? { traceparent: ce.traceparent } : {}),
  });
}

/** Validates `data` for `type`; the event id must match `data.eventId`. */
export function validateData(type: EventType, data: unknown, meta: Omit<DeliveredEvent, 'type' | 'data'>): ParseResult {
  const schema = dataSchemaByType[type] as z.ZodType | undefined;
  if (!schema) return { ok: false, reason: `unknown event type ${type}` };
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: `invalid ${type} data at ${issue?.path.join('.') ?? '?'}: ${issue?.message ?? 'unknown'}` };
  }
  const value = parsed.data as { eventId: string; taskId: string };
  if (value.eventId !== meta.id) return { ok: false, reason: `event id ${meta.id} does not match data.eventId ${value.eventId}` };
  return { ok: true, event: { ...meta, key: meta.key || value.taskId, type, data: parsed.data } as DeliveredEvent };
}
