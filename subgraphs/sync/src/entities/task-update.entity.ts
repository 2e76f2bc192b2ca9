import { EntitySchema } from '@mikro-orm/core';

export const TASK_OPS = ['CREATED', 'UPDATED', 'COMPLETED', 'REOPENED', 'DELETED'] as const;
export type TaskOp = (typeof TASK_OPS)[number];

/**
 * One change of the retained window (schema `sync`, table `task_update`): what a reconnecting
 * subscriber replays. `cursor` is the event's log position (outbox seq), unique: a redelivered
 * event inserts nothing.
 */
export interface TaskUpdate {
  /** bigint as a decimal string (it can exceed 2^53). */
  cursor: string;
  eventId: string;
  userId: string;
  taskId: string;
  op: TaskOp;
  version: number;
  changedFields: string[];
  /** The task's tags as of this update (the `tags` filter matches on them). */
  tags: string[];
  occurredAt: Date;
}

export const TaskUpdateSchema = new EntitySchema<TaskUpdate>({
  name: 'TaskUpdate',
  tableName: 'task_update',
  properties: {
    cursor: { type: 'bigint', primary: true },
    eventId: { type: 'uuid' },
    userId: { type: 'text', index: 'task_update_user_cursor_idx' },
    taskId: { type: 'uuid' },
    op: { type: 'text' },
    version: { type: 'integer' },
    changedFields: { type: 'text[]' },
    tags: { type: 'text[]' },
    occurredAt: { type: 'datetime', columnType: 'timestamptz', index: 'task_update_occurred_at_idx' },
  },
});
