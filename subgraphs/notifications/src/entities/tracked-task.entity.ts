import { EntitySchema } from '@mikro-orm/core';

/**
 * The latest state of a task that this service has applied from `task-events` (schema
 * `notifications`). `version` is the version check: an event at or below it is a duplicate or
 * arrived out of order and is ignored. A deleted task keeps its row (`deleted`) so a late older
 * event cannot bring its reminders back.
 */
export interface TrackedTask {
  taskId: string;
  userId: string;
  version: number;
  title: string;
  dueAt: Date | null;
  status: 'OPEN' | 'DONE';
  deleted: boolean;
  updatedAt: Date;
}

export const TrackedTaskSchema = new EntitySchema<TrackedTask>({
  name: 'TrackedTask',
  tableName: 'tracked_task',
  properties: {
    taskId: { type: 'uuid', primary: true },
    userId: { type: 'text' },
    version: { type: 'integer' },
    title: { type: 'text' },
    dueAt: { type: 'datetime', columnType: 'timestamptz', nullable: true },
    status: { type: 'text' },
    deleted: { type: 'boolean' },
    updatedAt: { type: 'datetime', columnType: 'timestamptz' },
  },
});
