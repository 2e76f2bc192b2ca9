import { EntitySchema } from '@mikro-orm/core';

export type NotificationKind = 'REMINDER';

/** A notification in a user's inbox (schema `notifications`). */
export interface Notification {
  id: string;
  userId: string;
  taskId: string;
  kind: NotificationKind;
  title: string;
  body: string;
  /** Reminder job that produced it; unique with `generation`: one notification per arming. */
  jobName: string;
  generation: number;
  fireAt: Date;
  createdAt: Date;
  readAt: Date | null;
}

export const NotificationSchema = new EntitySchema<Notification>({
  name: 'Notification',
  tableName: 'notification',
  properties: {
    id: { type: 'uuid', primary: true },
    userId: { type: 'text' },
    taskId: { type: 'uuid' },
    kind: { type: 'text' },
    title: { type: 'text' },
    body: { type: 'text' },
    jobName: { type: 'text' },
    generation: { type: 'integer' },
    fireAt: { type: 'datetime', columnType: 'timestamptz' },
    createdAt: { type: 'datetime', columnType: 'timestamptz' },
    readAt: { type: 'datetime', columnType: 'timestamptz', nullable: true },
  },
});
