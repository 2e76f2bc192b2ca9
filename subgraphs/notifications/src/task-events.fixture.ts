import { randomUUID } from 'node:crypto';
import { OUTBOX_CHANNEL, type OutboxEvent, type ReminderRule, type TaskEventType, toCloudEvent } from '@taskgraph/events';
import { taskEventOf, taskSnapshot } from '@taskgraph/test-kit';
import type pg from 'pg';

/** Test fixtures: task events as tasks produces them, fed through `bus.outbox` or posted as Dapr would. */

export interface TaskState {
  id: string;
  userId: string;
  title: string;
  status: 'OPEN' | 'DONE';
  dueAt: Date | null;
  reminders: ReminderRule[];
  recurrence: string | null;
  seriesId: string | null;
  previousOccurrenceId: string | null;
  version: number;
}

export function newTask(userId: string, fields: Partial<Omit<TaskState, 'userId'>> = {}): TaskState {
  return {
    id: randomUUID(),
    userId,
    title: 'task',
    status: 'OPEN',
    dueAt: null,
    reminders: [],
    recurrence: null,
    seriesId: null,
    previousOccurrenceId: null,
    version: 1,
    ...fields,
  };
}

/** A `task-events` event carrying the task's snapshot (as tasks' `taskChangeEvents` builds it). */
export function taskEvent(type: TaskEventType, task: TaskState, overrides: { reminders?: unknown[] } = {}): OutboxEvent {
  const now = new Date().toISOString();
  const snapshot = taskSnapshot(
    {
      id: task.id,
      userId: task.userId,
      title: task.title,
      status: task.status,
      dueAt: task.dueAt?.toISOString() ?? null,
      recurrence: task.recurrence,
      reminders:
        (overrides.reminders as ReminderRule[] | undefined) ?? task.reminders.map((r) => ({ offset: r.offset ?? null, at: r.at ?? null })),
      seriesId: task.seriesId,
      previousOccurrenceId: task.previousOccurrenceId,
      completedAt: task.status === 'DONE' ? now : null,
      version: task.version,
    },
    now,
  );
  return taskEventOf({ type, task: snapshot, occurredAt: now });
}

/** Appends events to `bus.outbox` and wakes the embedded consumers (what `appendToOutbox` does). */
export async function appendEvents(sql: pg.Client, ...events: OutboxEvent[]): Promise<void> {
  for (const e of events) {
    await sql.query('insert into bus.outbox (id, topic, key, type, data, occurred_at, source) values ($1, $2, $3, $4, $5, $6, $7)', [
      e.id,
      e.topic,
      e.key,
      e.type,
      JSON.stringify(e.data),
      e.occurredAt,
      e.source,
    ]);
  }
  await sql.query(`select pg_notify('${OUTBOX_CHANNEL}', '')`);
}

/** POSTs an event to the service's Dapr delivery route as the sidecar would; returns the status it answered. */
export async function deliverAsDapr(serviceUrl: string, event: OutboxEvent): Promise<{ http: number; status: unknown }> {
  const res = await fetch(serviceUrl.replace(/\/graphql$/, `/events/${event.topic}`), {
    method: 'POST',
    headers: { 'content-type': 'application/cloudevents+json' },
    body: JSON.stringify({ ...toCloudEvent(event, '0'), topic: event.topic, pubsubname: 'pubsub' }),
  });
  const body = (await res.json().catch(() => ({}))) as { status?: unknown };
  return { http: res.status, status: body.status };
}

/** A counter's value from the service's `/metrics` (0 when absent). */
export async function metric(serviceUrl: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(serviceUrl.replace(/\/graphql$/, '/metrics'))).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}
