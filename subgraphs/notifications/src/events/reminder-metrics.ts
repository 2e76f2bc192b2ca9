import { Counter, Histogram, type Registry } from 'prom-client';

/** Reminder metrics, registered on the service's registry (`/metrics`). */
export interface ReminderMetrics {
  /** Reminder outcomes: fired, missed (past the grace window), stale (trigger of a cancelled/moved reminder), duplicate, early (retried). */
  readonly outcomes: Counter<'outcome'>;
  /** Notification time minus fire time: how late reminders are delivered (never negative). */
  readonly fireDelay: Histogram;
}

export function createReminderMetrics(registry: Registry): ReminderMetrics {
  return {
    outcomes: new Counter({
      name: 'reminders_total',
      help: 'Reminder triggers by outcome',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    fireDelay: new Histogram({
      name: 'reminder_fire_delay_seconds',
      help: 'Notification time minus the reminder fire time',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60],
      registers: [registry],
    }),
  };
}
