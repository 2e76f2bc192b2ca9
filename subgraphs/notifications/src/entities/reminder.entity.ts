import { EntitySchema } from '@mikro-orm/core';
import type { ReminderRule } from '@taskgraph/events';

/**
 * SCHEDULED: a job is set for `fireAt`. FIRED: the notification exists. CANCELLED: the task is
 * done or deleted, or the rule has no fire time (offset on a task without a due date). MISSED: the
 * fire time had passed by more than the grace window when it was armed or delivered.
 */
export type ReminderStatus = 'SCHEDULED' | 'FIRED' | 'CANCELLED' | 'MISSED';

/** One reminder rule of a task and its scheduling state (schema `notifications`). */
export interface Reminder {
  /** The job name, `reminder-<taskId>-<n>`: stable per task and rule index. */
  id: string;
  taskId: string;
  userId: string;
  /** Index of the rule in the task's `reminders`. */
  n: number;
  rule: ReminderRule;
  fireAt: Date | null;
  status: ReminderStatus;
  /**
   * Task version of the event that last armed it (new rule, moved fire time, reopened). Job data
   * carries it: a trigger with another generation is stale. With the job name it also keys the
   * notification, so each arming notifies at most once.
   */
  generation: number;
  firedAt: Date | null;
  updatedAt: Date;
}

export const ReminderSchema = new EntitySchema<Reminder>({
  name: 'Reminder',
  tableName: 'reminder',
  properties: {
    id: { type: 'text', primary: true },
    taskId: { type: 'uuid' },
    userId: { type: 'text' },
    n: { type: 'smallint' },
    rule: { type: 'json' },
    fireAt: { type: 'datetime', columnType: 'timestamptz', nullable: true },
    status: { type: 'text' },
    generation: { type: 'integer' },
    firedAt: { type: 'datetime', columnType: 'timestamptz', nullable: true },
    updatedAt: { type: 'datetime', columnType: 'timestamptz' },
  },
});
