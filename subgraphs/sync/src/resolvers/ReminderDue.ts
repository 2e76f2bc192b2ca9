import type { ReminderDue as Reminder } from '../feed/reminder-due.js';

export const ReminderDue = {
  task: (reminder: Reminder) => ({ __typename: 'Task', id: reminder.taskId }),
};
