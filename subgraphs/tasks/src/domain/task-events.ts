import { randomUUID } from 'node:crypto';
import { type Changes, EventType, type OutboxEvent, type TaskEventType, type TaskSnapshot, Topic } from '@taskgraph/events';
import { PRIORITY_BY_RANK, type Task } from '../entities/task.entity.js';

export const EVENT_SOURCE = 'taskgraph/tasks';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** The task as events carry it. */
export function snapshotOf(task: Task): TaskSnapshot {
  return {
    id: task.id,
    userId: task.userId,
    title: task.title,
    notes: task.notes,
    status: task.status,
    priority: PRIORITY_BY_RANK[task.priorityRank] ?? 'MEDIUM',
    tags: [...task.tags],
    dueAt: iso(task.dueAt),
    timeZone: task.timeZone,
    recurrence: task.recurrence,
    reminders: task.reminders.map((r) => ({ offset: r.offset ?? null, at: r.at ?? null })),
    seriesId: task.seriesId,
    previousOccurrenceId: task.previousOccurrenceId,
    completedAt: iso(task.completedAt),
    createdAt: task.createdAt.toISOString(),
    updatedAt: task.updatedAt.toISOString(),
    version: task.version,
  };
}

const TRACKED: readonly (keyof TaskSnapshot)[] = [
  'title',
  'notes',
  'status',
  'priority',
  'tags',
  'dueAt',
  'timeZone',
  'recurrence',
  'reminders',
  'completedAt',
];

/** Field-level changes between two snapshots (`from`/`to`), only fields that differ. */
export function diffSnapshots(before: TaskSnapshot, after: TaskSnapshot): Changes {
  const changes: Changes = {};
  for (const field of TRACKED) {
    const from = before[field];
    const to = after[field];
    if (JSON.stringify(from) !== JSON.stringify(to)) changes[field] = { from, to };
  }
  return changes;
}

/**
 * The two events of one task change: the domain event on `task-events` and the change-feed entry
 * on `task-updates` (snapshot + changes + version). Both keyed by task id for per-task order.
 */
export function taskChangeEvents(
  type: TaskEventType,
  task: TaskSnapshot,
  actor: string,
  occurredAt: Date,
  changes?: Changes,
): OutboxEvent[] {
  return [Topic.TaskEvents, Topic.TaskUpdates].map((topic) => {
    const eventId = randomUUID();
    return {
      id: eventId,
      topic,
      key: task.id,
      type,
      source: EVENT_SOURCE,
      occurredAt: occurredAt.toISOString(),
      data: {
        eventId,
        taskId: task.id,
        userId: task.userId,
        actor,
        occurredAt: occurredAt.toISOString(),
        version: task.version,
        task,
        ...(changes ? { changes } : {}),
      },
    } satisfies OutboxEvent;
  });
}

export { EventType };
