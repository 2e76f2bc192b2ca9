import {
  appendToOutbox,
  drop,
  type EventHandler,
  EventType,
  type Job,
  type OutboxEvent,
  retry,
  SUCCESS,
  type Subscription,
  TASK_EVENT_TYPES,
  type TaskEventData,
  Topic,
} from '@taskgraph/events';
import type { EntityManager } from '@taskgraph/runtime';
import type { ReminderJobData } from '../domain/reminder-job.js';
import { reminderJobName } from '../domain/reminder-job.js';
import { invalidRulesReason, type PlannedReminder, planReminders } from '../domain/reminder-plan.js';
import { type Reminder, ReminderSchema } from '../entities/reminder.entity.js';
import { ReminderRepository } from '../repositories/reminder.repository.js';
import { errorMessage, type ReminderDeps } from './reminder-deps.js';
import { fireReminder } from './reminder-fire.js';

export const NOTIFICATIONS_GROUP = 'notifications';

/**
 * Consumes `task-events` (group `notifications`) and keeps each task's reminders in step with its
 * latest snapshot: (re)schedules jobs for new or moved fire times, deletes jobs of removed or
 * cancelled reminders, fires just-passed ones at once and marks long-passed ones MISSED. Runs in
 * the bus transaction (committed with the offset / dedupe marker); in embedded mode the jobs
 * commit with it too. Events at or below the task's applied version are ignored, so duplicates
 * and out-of-order deliveries do no harm.
 */
export function taskEventsConsumer(deps: ReminderDeps): Subscription {
  const handler: EventHandler = async (event, tx) => {
    const data = event.data as TaskEventData;
    const invalid = invalidRulesReason(data.task.reminders);
    if (invalid) return drop(`task ${data.taskId} v${data.version}: ${invalid}`);
    try {
      return await applyTaskEvent(deps, event.type === EventType.TaskDeleted, data, tx);
    } catch (error) {
      // Database or sidecar trouble: the transaction rolls back and the event comes again.
      return retry(`applying task ${data.taskId} v${data.version}: ${errorMessage(error)}`);
    }
  };
  return { group: NOTIFICATIONS_GROUP, topic: Topic.TaskEvents, types: TASK_EVENT_TYPES, handler };
}

async function applyTaskEvent(deps: ReminderDeps, deleted: boolean, data: TaskEventData, tx: EntityManager) {
  const now = new Date();
  const repo = new ReminderRepository(tx);
  const task = await repo.lockTrackedTask(data.taskId, data.userId, now);
  if (task.version >= data.version) {
    deps.logger.debug({ taskId: data.taskId, version: data.version, applied: task.version }, 'older or duplicate task event ignored');
    return SUCCESS;
  }
  Object.assign(task, {
    userId: data.userId,
    version: data.version,
    title: data.task.title,
    dueAt: data.task.dueAt ? new Date(data.task.dueAt) : null,
    status: data.task.status,
    deleted,
    updatedAt: now,
  });

  const existing = await repo.findForTaskLocked(data.taskId);
  const plan = planReminders({
    rules: data.task.reminders,
    dueAt: task.dueAt,
    active: !deleted && data.task.status === 'OPEN',
    version: data.version,
    existing,
    now,
    graceMs: deps.graceMs,
  });

  const stored = new Map(existing.map((r) => [r.n, r]));
  const dueEvents: OutboxEvent[] = [];
  const jobs: Job[] = [];
  for (const planned of plan.reminders) {
    const reminder = upsertReminder(tx, stored.get(planned.n), planned, data, now);
    if (planned.action === 'fire') {
      const due = await fireReminder(tx, reminder, task, now, deps.metrics);
      if (due) dueEvents.push(due);
    } else if (planned.action === 'miss') {
      deps.metrics.outcomes.inc({ outcome: 'missed' });
      deps.logger.info(
        { taskId: data.taskId, n: planned.n, fireAt: planned.fireAt },
        'reminder fire time passed beyond the grace window: missed',
      );
    } else if (planned.action === 'schedule') {
      const jobData: ReminderJobData = {
        taskId: data.taskId,
        userId: data.userId,
        n: planned.n,
        fireAt: planned.fireAt!.toISOString(),
        generation: planned.generation,
      };
      jobs.push({ name: reminder.id, dueTime: planned.fireAt!, data: jobData });
    }
  }
  for (const n of plan.removed) tx.remove(stored.get(n)!);
  await tx.flush();

  // Jobs after the rows: in dapr mode these are sidecar calls outside the transaction, so a
  // failure here must still be able to roll everything back (RETRY); overwrite/delete are
  // idempotent, and a job whose arming never commits is recognised as stale when it triggers.
  for (const n of plan.unschedule) await deps.scheduler.delete(reminderJobName(data.taskId, n), tx);
  for (const job of jobs) await deps.scheduler.schedule(job, tx);
  await appendToOutbox(tx, dueEvents);
  return SUCCESS;
}

function upsertReminder(
  tx: EntityManager,
  current: Reminder | undefined,
  planned: PlannedReminder,
  data: TaskEventData,
  now: Date,
): Reminder {
  const firedAt = planned.status === 'FIRED' && planned.action === 'keep' ? (current?.firedAt ?? null) : null;
  const fields = {
    userId: data.userId,
    rule: { offset: planned.rule.offset ?? null, at: planned.rule.at ?? null },
    fireAt: planned.fireAt,
    status: planned.status,
    generation: planned.generation,
    firedAt,
  };
  if (!current) {
    return tx.create(ReminderSchema, {
      id: reminderJobName(data.taskId, planned.n),
      taskId: data.taskId,
      n: planned.n,
      ...fields,
      updatedAt: now,
    });
  }
  Object.assign(current, fields, planned.action === 'keep' ? {} : { updatedAt: now });
  return current;
}
