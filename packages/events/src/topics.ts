/** Topic names: the only place they are spelled (ARCHITECTURE §1). */
export const Topic = {
  /** Domain events of tasks: consumed by audit, notifications and the recurrence worker. */
  TaskEvents: 'task-events',
  /** Client change feed (snapshot + changes + version): consumed by sync. */
  TaskUpdates: 'task-updates',
  /** Reminder events from notifications: consumed by sync. */
  Reminders: 'reminders',
} as const;
export type Topic = (typeof Topic)[keyof typeof Topic];

export const ALL_TOPICS: readonly Topic[] = [Topic.TaskEvents, Topic.TaskUpdates, Topic.Reminders];

/** Dead-letter topic of a topic (ARCHITECTURE §5). */
export const deadLetterTopic = (topic: Topic): string => `${topic}-dlq`;
