import { randomUUID } from 'node:crypto';
import { type Changes, type OutboxEvent, type TaskEventType, type TaskSnapshot, Topic } from '@taskgraph/events';

/**
 * A task snapshot as the tasks service publishes it: a new task (OPEN, MEDIUM, version 1, nothing
 * else set) created and last updated at `at`, with `fields` on top.
 */
export function taskSnapshot(
  fields: Pick<TaskSnapshot, 'id' | 'userId'> & Partial<TaskSnapshot>,
  at = new Date().toISOString(),
): TaskSnapshot {
  const { id, userId, ...rest } = fields;
  return {
    id,
    userId,
    title: 'task',
    notes: null,
    status: 'OPEN',
    priority: 'MEDIUM',
    tags: [],
    dueAt: null,
    timeZone: null,
    recurrence: null,
    reminders: [],
    seriesId: null,
    previousOccurrenceId: null,
    completedAt: null,
    createdAt: at,
    updatedAt: at,
    version: 1,
    ...rest,
  };
}

/** What a task event says; see `taskEventOf`. */
export interface TaskEventSpec {
  type: TaskEventType;
  /** The task after the change; the event's key, user and version are its. */
  task: TaskSnapshot;
  /** Default `task-events`. */
  topic?: Topic;
  /** Default `taskgraph/tasks`. */
  source?: string;
  /** Default the task's user. */
  actor?: string;
  /** ISO time; default now. */
  occurredAt?: string;
  changes?: Changes;
}

/** A valid task event (ARCHITECTURE §4) with a fresh event id, as the tasks service writes it to its outbox. */
export function taskEventOf(spec: TaskEventSpec): OutboxEvent {
  const { task } = spec;
  const eventId = randomUUID();
  const occurredAt = spec.occurredAt ?? new Date().toISOString();
  return {
    id: eventId,
    topic: spec.topic ?? Topic.TaskEvents,
    key: task.id,
    type: spec.type,
    source: spec.source ?? 'taskgraph/tasks',
    occurredAt,
    data: {
      eventId,
      taskId: task.id,
      userId: task.userId,
      actor: spec.actor ?? task.userId,
      occurredAt,
      version: task.version,
      task,
      ...(spec.changes ? { changes: spec.changes } : {}),
    },
  };
}
