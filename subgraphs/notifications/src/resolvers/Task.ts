import { isUuid } from '@taskgraph/runtime';
import type { NotificationsContext } from '../context.js';
import type { Reminder as ReminderRow } from '../entities/reminder.entity.js';

type TaskRef = { id: string };

export const Task = {
  // No lookup: the task is owned by tasks; its reminders are scoped to the caller when loaded.
  __resolveReference: (ref: TaskRef) => ({ id: ref.id }),
  reminders: (task: TaskRef, _: unknown, ctx: NotificationsContext) => (isUuid(task.id) ? ctx.remindersByTask.load(task.id) : []),
};

export const Reminder = {
  index: (r: ReminderRow) => r.n,
  offset: (r: ReminderRow) => r.rule.offset ?? null,
  at: (r: ReminderRow) => (r.rule.at ? new Date(r.rule.at) : null),
};
