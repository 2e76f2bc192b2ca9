import type { Scheduler } from '@taskgraph/events';
import type { Logger } from '@taskgraph/runtime';
import type { ReminderMetrics } from './reminder-metrics.js';

/** What the task-events consumer and the job trigger share. */
export interface ReminderDeps {
  scheduler: Scheduler;
  logger: Logger;
  metrics: ReminderMetrics;
  /** See `DEFAULT_REMINDER_GRACE_MS`. */
  graceMs: number;
}

export const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error));
