import { randomUUID } from 'node:crypto';
import { EventType, type OutboxEvent, Topic } from '@taskgraph/events';
import type { EntityManager } from '@taskgraph/runtime';
import { reminderText } from '../domain/reminder-text.js';
import type { Reminder } from '../entities/reminder.entity.js';
import type { TrackedTask } from '../entities/tracked-task.entity.js';
import { NotificationRepository } from '../repositories/notification.repository.js';
import type { ReminderMetrics } from './reminder-metrics.js';

export const EVENT_SOURCE = 'taskgraph/notifications';

/**
 * Fires a reminder inside the caller's transaction: creates its notification unless one exists
 * for (job name, generation) and marks it FIRED. Returns the `reminder.due` event to append to
 * the outbox (the caller appends it last, after flushing), or `undefined` when the notification
 * already existed (a duplicate delivery notifies nobody twice).
 */
export async function fireReminder(
  tx: EntityManager,
  reminder: Reminder,
  task: TrackedTask,
  now: Date,
  metrics: ReminderMetrics,
): Promise<OutboxEvent | undefined> {
  const fireAt = reminder.fireAt;
  if (!fireAt) throw new Error(`reminder ${reminder.id} has no fire time`);
  const text = reminderText(task.title, task.dueAt, fireAt);
  const notificationId = randomUUID();
  const inserted = await new NotificationRepository(tx).insertOnce({
    id: notificationId,
    userId: reminder.userId,
    taskId: reminder.taskId,
    kind: 'REMINDER',
    ...text,
    jobName: reminder.id,
    generation: reminder.generation,
    fireAt,
    createdAt: now,
    readAt: null,
  });
  reminder.status = 'FIRED';
  reminder.firedAt ??= now;
  reminder.updatedAt = now;
  if (!inserted) {
    metrics.outcomes.inc({ outcome: 'duplicate' });
    return undefined;
  }
  metrics.outcomes.inc({ outcome: 'fired' });
  metrics.fireDelay.observe((now.getTime() - fireAt.getTime()) / 1000);
  const eventId = randomUUID();
  return {
    id: eventId,
    topic: Topic.Reminders,
    key: reminder.taskId,
    type: EventType.ReminderDue,
    source: EVENT_SOURCE,
    occurredAt: now.toISOString(),
    data: {
      eventId,
      taskId: reminder.taskId,
      userId: reminder.userId,
      occurredAt: now.toISOString(),
      version: task.version,
      reminderId: reminder.id,
      fireAt: fireAt.toISOString(),
      notificationId,
      ...text,
    },
  } satisfies OutboxEvent<typeof EventType.ReminderDue>;
}
