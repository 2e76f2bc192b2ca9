/** A `ReminderDue` as the subscription streams it (built from a `reminder.due` event). */
export interface ReminderDue {
  userId: string;
  notificationId: string | null;
  taskId: string;
  fireAt: Date;
  title: string | null;
  body: string | null;
}
