import type { Notification as NotificationRow } from '../entities/notification.entity.js';

export const Notification = {
  /** A reference: the gateway resolves the task's other fields from tasks (null if it is gone). */
  task: (n: NotificationRow) => ({ __typename: 'Task', id: n.taskId }),
};
