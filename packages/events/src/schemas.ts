import { z } from 'zod';

/** Event types (CloudEvents `type`), versioned. */
export const EventType = {
  TaskCreated: 'taskgraph.task.created.v1',
  TaskUpdated: 'taskgraph.task.updated.v1',
  TaskCompleted: 'taskgraph.task.completed.v1',
  TaskReopened: 'taskgraph.task.reopened.v1',
  TaskDeleted: 'taskgraph.task.deleted.v1',
  ReminderScheduled: 'taskgraph.reminder.scheduled.v1',
  ReminderDue: 'taskgraph.reminder.due.v1',
} as const;
export type EventType = (typeof EventType)[keyof typeof EventType];
export const TASK_EVENT_TYPES = [
  EventType.TaskCreated,
  EventType.TaskUpdated,
  EventType.TaskCompleted,
  EventType.TaskReopened,
  EventType.TaskDeleted,
] as const;
export type TaskEventType = (typeof TASK_EVENT_TYPES)[number];

const isoDateTime = z.iso.datetime({ offset: true });

/** A reminder rule attached to a task: an ISO-8601 offset before `dueAt`, or an absolute time. */
export const reminderRuleSchema = z
  .object({
    offset: z.string().min(1).nullable().optional(),
    at: isoDateTime.nullable().optional(),
  })
  .refine((r) => Boolean(r.offset) !== Boolean(r.at), { message: 'a reminder has exactly one of offset or at' });
export type ReminderRule = z.infer<typeof reminderRuleSchema>;

/** The task as it is after the change. */
export const taskSnapshotSchema = z.object({
  id: z.uuid(),
  userId: z.string().min(1),
  title: z.string(),
  notes: z.string().nullable(),
  status: z.enum(['OPEN', 'DONE']),
  priority: z.enum(['LOW', 'MEDIUM', 'HIGH', 'URGENT']),
  tags: z.array(z.string()),
  dueAt: isoDateTime.nullable(),
  timeZone: z.string().nullable(),
  recurrence: z.string().nullable(),
  reminders: z.array(reminderRuleSchema),
  /** First task of a recurring series; the task's own id when it starts the series. */
  seriesId: z.uuid().nullable(),
  /** The task this occurrence was created from when its predecessor was completed. */
  previousOccurrenceId: z.uuid().nullable(),
  completedAt: isoDateTime.nullable(),
  createdAt: isoDateTime,
  updatedAt: isoDateTime,
  version: z.number().int().positive(),
});
export type TaskSnapshot = z.infer<typeof taskSnapshotSchema>;

export const fieldChangeSchema = z.object({ from: z.unknown(), to: z.unknown() });
export const changesSchema = z.record(z.string(), fieldChangeSchema);
export type Changes = z.infer<typeof changesSchema>;

/** `data` of every task event (ARCHITECTURE §4). */
export const taskEventDataSchema = z.object({
  eventId: z.uuid(),
  taskId: z.uuid(),
  userId: z.string().min(1),
  /** Who made the change: the user, or `system:<worker>` for workers. */
  actor: z.string().min(1),
  occurredAt: isoDateTime,
  version: z.number().int().positive(),
  task: taskSnapshotSchema,
  changes: changesSchema.optional(),
});
export type TaskEventData = z.infer<typeof taskEventDataSchema>;

/** `data` of reminder events. */
export const reminderEventDataSchema = z.object({
  eventId: z.uuid(),
  taskId: z.uuid(),
  userId: z.string().min(1),
  occurredAt: isoDateTime,
  version: z.number().int().positive(),
  reminderId: z.string().min(1),
  fireAt: isoDateTime,
  notificationId: z.uuid().optional(),
  title: z.string().optional(),
  body: z.string().optional(),
});
export type ReminderEventData = z.infer<typeof reminderEventDataSchema>;

/** Validator per event type: consumers validate `data` before touching it. */
export const dataSchemaByType = {
  [EventType.TaskCreated]: taskEventDataSchema,
  [EventType.TaskUpdated]: taskEventDataSchema,
  [EventType.TaskCompleted]: taskEventDataSchema,
  [EventType.TaskReopened]: taskEventDataSchema,
  [EventType.TaskDeleted]: taskEventDataSchema,
  [EventType.ReminderScheduled]: reminderEventDataSchema,
  [EventType.ReminderDue]: reminderEventDataSchema,
} as const;

export type EventDataByType = {
  [K in keyof typeof dataSchemaByType]: z.infer<(typeof dataSchemaByType)[K]>;
};
