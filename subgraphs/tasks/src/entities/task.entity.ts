import { EntitySchema } from '@mikro-orm/core';
import type { ReminderRule } from '@taskgraph/events';

export type TaskStatus = 'OPEN' | 'DONE';
export type Priority = 'LOW' | 'MEDIUM' | 'HIGH' | 'URGENT';
/** Priorities are stored as their rank so ordering by priority is an index scan. */
export const PRIORITY_RANK: Record<Priority, number> = { LOW: 0, MEDIUM: 1, HIGH: 2, URGENT: 3 };
export const PRIORITY_BY_RANK: readonly Priority[] = ['LOW', 'MEDIUM', 'HIGH', 'URGENT'];

/** A task row (schema `tasks`). */
export interface Task {
  id: string;
  userId: string;
  title: string;
  notes: string | null;
  status: TaskStatus;
  priorityRank: number;
  tags: string[];
  dueAt: Date | null;
  /** IANA zone the due date and recurrence are interpreted in. */
  timeZone: string | null;
  /** RRULE (without DTSTART; the series start is `seriesStart`). */
  recurrence: string | null;
  /** DTSTART of the recurrence series: the first occurrence's due date. */
  seriesStart: Date | null;
  seriesId: string | null;
  /** Unique: a completed occurrence has at most one successor (exactly-once recurrence). */
  previousOccurrenceId: string | null;
  reminders: ReminderRule[];
  completedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  version: number;
}

export const TaskSchema = new EntitySchema<Task>({
  name: 'Task',
  tableName: 'task',
  properties: {
    id: { type: 'uuid', primary: true },
    userId: { type: 'text', index: 'task_user_created_idx' },
    title: { type: 'text' },
    notes: { type: 'text', nullable: true },
    status: { type: 'text' },
    priorityRank: { type: 'smallint' },
    tags: { type: 'text[]' },
    dueAt: { type: 'datetime', columnType: 'timestamptz', nullable: true },
    timeZone: { type: 'text', nullable: true },
    recurrence: { type: 'text', nullable: true },
    seriesStart: { type: 'datetime', columnType: 'timestamptz', nullable: true },
    seriesId: { type: 'uuid', nullable: true },
    previousOccurrenceId: { type: 'uuid', nullable: true, unique: 'task_previous_occurrence_id_unique' },
    reminders: { type: 'json' },
    completedAt: { type: 'datetime', columnType: 'timestamptz', nullable: true },
    createdAt: { type: 'datetime', columnType: 'timestamptz' },
    updatedAt: { type: 'datetime', columnType: 'timestamptz' },
    version: { type: 'integer' },
  },
});
