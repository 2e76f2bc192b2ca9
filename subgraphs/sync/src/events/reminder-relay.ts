import { type EventHandler, type ReminderEventData, SUCCESS } from '@taskgraph/events';
import type { Logger } from '@taskgraph/runtime';
import type { LiveHub } from '../feed/live-hub.js';
import type { ReminderDue } from '../feed/reminder-due.js';
import { afterCommit } from './after-commit.js';

export interface ReminderRelayOptions {
  hub: LiveHub<ReminderDue>;
  logger: Logger;
  /** A reminder older than this is a replay (new consumer reading old log ranges), not news: not pushed. */
  maxAgeMs: number;
}

/** `reminders` consumer (`reminder.due` only): pushes to the owner's live subscribers; nothing is stored (no replay). */
export function reminderRelay(options: ReminderRelayOptions): EventHandler {
  return async (event, tx) => {
    const data = event.data as ReminderEventData;
    if (Date.now() - new Date(data.occurredAt).getTime() > options.maxAgeMs) {
      options.logger.debug({ eventId: event.id }, 'stale reminder not pushed');
      return SUCCESS;
    }
    const reminder: ReminderDue = {
      userId: data.userId,
      notificationId: data.notificationId ?? null,
      taskId: data.taskId.toLowerCase(),
      fireAt: new Date(data.fireAt),
      title: data.title ?? null,
      body: data.body ?? null,
    };
    afterCommit(tx, () => options.hub.publish(reminder.userId, reminder));
    return SUCCESS;
  };
}
