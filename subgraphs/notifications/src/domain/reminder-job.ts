import { MAX_REMINDERS } from '@taskgraph/events';
import { z } from 'zod';

/** Job name of rule `n` of a task: stable, so re-scheduling overwrites (Dapr Jobs semantics). */
export const reminderJobName = (taskId: string, n: number): string => `reminder-${taskId}-${n}`;

/** `data` of a reminder job, as scheduled and as delivered back on trigger. */
export const reminderJobDataSchema = z.object({
  taskId: z.uuid(),
  userId: z.string().min(1),
  n: z
    .number()
    .int()
    .min(0)
    .max(MAX_REMINDERS - 1),
  fireAt: z.iso.datetime({ offset: true }),
  /** The reminder's generation when the job was set; another generation means the trigger is stale. */
  generation: z.number().int().positive(),
});
export type ReminderJobData = z.infer<typeof reminderJobDataSchema>;
