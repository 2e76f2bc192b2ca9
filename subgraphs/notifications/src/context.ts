import type { Caller, EntityManager } from '@taskgraph/runtime';
import DataLoader from 'dataloader';
import type { Reminder } from './entities/reminder.entity.js';
import { NotificationRepository } from './repositories/notification.repository.js';
import { ReminderRepository } from './repositories/reminder.repository.js';

/** Per-request state: the caller, a forked EntityManager and fresh DataLoaders (CONVENTIONS §3). */
export interface NotificationsContext {
  caller: Caller;
  em: EntityManager;
  notifications: NotificationRepository;
  /** The caller's reminders per task id: one SQL query per batch of entity references (ARCHITECTURE §6). */
  remindersByTask: DataLoader<string, Reminder[]>;
}

export function createContext(caller: Caller, em: EntityManager): NotificationsContext {
  const reminders = new ReminderRepository(em);
  return {
    caller,
    em,
    notifications: new NotificationRepository(em),
    remindersByTask: new DataLoader(async (taskIds) => {
      const rows = await reminders.findForTasks(caller.userId, taskIds);
      const byTask = new Map<string, Reminder[]>();
      for (const row of rows) {
        const list = byTask.get(row.taskId);
        if (list) list.push(row);
        else byTask.set(row.taskId, [row]);
      }
      return taskIds.map((id) => byTask.get(id) ?? []);
    }),
  };
}
