import { appendToOutbox, drop, type JobHandler, retry, SUCCESS } from '@taskgraph/events';
import type { EntityManager } from '@taskgraph/runtime';
import { type ReminderJobData, reminderJobDataSchema, reminderJobName } from '../domain/reminder-job.js';
import { ReminderRepository } from '../repositories/reminder.repository.js';
import { errorMessage, type ReminderDeps } from './reminder-deps.js';
import { fireReminder } from './reminder-fire.js';

/**
 * Handles a due reminder job (`scheduler.onTrigger`), in the trigger's transaction: creates the
 * notification exactly once, marks the reminder FIRED and appends `reminder.due` to the outbox.
 * Triggers are at-least-once: a duplicate finds the reminder FIRED (and the notification's
 * unique (job name, generation) backs that up); a stale one (reminder cancelled, removed or
 * re-armed since) finds another generation or status and is acknowledged without notifying.
 */
export function reminderTrigger(deps: ReminderDeps): JobHandler {
  return async (job, tx) => {
    const parsed = reminderJobDataSchema.safeParse(job.data);
    if (!parsed.success) return drop(`reminder job ${job.name}: invalid data at ${parsed.error.issues[0]?.path.join('.') ?? '?'}`);
    const data = parsed.data;
    if (job.name !== reminderJobName(data.taskId, data.n))
      return drop(`reminder job ${job.name}: data is for ${reminderJobName(data.taskId, data.n)}`);
    try {
      return await handleTrigger(deps, job.name, data, tx);
    } catch (error) {
      return retry(`reminder job ${job.name}: ${errorMessage(error)}`);
    }
  };
}

async function handleTrigger(deps: ReminderDeps, name: string, data: ReminderJobData, tx: EntityManager) {
  const now = new Date();
  const fireAt = new Date(data.fireAt);
  // Never early: the scheduler promises it, this makes sure of it (clock skew between hosts).
  if (now.getTime() < fireAt.getTime()) {
    deps.metrics.outcomes.inc({ outcome: 'early' });
    return retry(`reminder job ${name} triggered ${fireAt.getTime() - now.getTime()} ms early`);
  }

  const repo = new ReminderRepository(tx);
  const task = await repo.findTrackedTaskLocked(data.taskId);
  // Dapr mode sets the job before the consumer's transaction commits: if the event that armed
  // this generation is not visible yet, come back later rather than calling the trigger stale.
  if (!task || task.version < data.generation) return retry(`reminder job ${name}: task version ${data.generation} not applied yet`);

  const reminder = await repo.findOneLocked(name);
  const current = reminder !== null && reminder.generation === data.generation && reminder.fireAt?.getTime() === fireAt.getTime();
  if (!current || reminder.status !== 'SCHEDULED') {
    const outcome = current && reminder.status === 'FIRED' ? 'duplicate' : 'stale';
    deps.metrics.outcomes.inc({ outcome });
    deps.logger.debug({ job: name, generation: data.generation, status: reminder?.status }, `${outcome} reminder trigger acknowledged`);
    return SUCCESS;
  }
  if (now.getTime() - fireAt.getTime() > deps.graceMs) {
    reminder.status = 'MISSED';
    reminder.updatedAt = now;
    await tx.flush();
    deps.metrics.outcomes.inc({ outcome: 'missed' });
    deps.logger.warn(
      { job: name, fireAt: data.fireAt, lateMs: now.getTime() - fireAt.getTime() },
      'reminder delivered beyond the grace window: missed',
    );
    return SUCCESS;
  }
  const due = await fireReminder(tx, reminder, task, now, deps.metrics);
  await tx.flush();
  if (due) await appendToOutbox(tx, [due]);
  return SUCCESS;
}
