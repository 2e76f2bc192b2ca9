import {
  appendToOutbox,
  type BatchEventHandler,
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
import { type EntityManager, runStatement } from '@taskgraph/runtime';
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
  return { group: NOTIFICATIONS_GROUP, topic: Topic.TaskEvents, types: TASK_EVENT_TYPES, handler, batchHandler: withoutReminders };
}

/**
 * The common case of a batch in one statement: tasks that have no reminder rows and whose events
 * in the batch carry no reminder rules need only their tracked row brought to the latest version
 * (what `applyTaskEvent` does for them: the plan is empty). Reports those tasks' events, and the
 * events of tasks already at or past the version (duplicates); every other task's events go to
 * the handler, all of them, in order.
 */
const withoutReminders: BatchEventHandler = async (events, tx) => {
  const latest = new Map<string, { data: TaskEventData; deleted: boolean }>();
  const withRules = new Set<string>();
  for (const event of events) {
    const data = event.data as TaskEventData;
    if (data.task.reminders.length > 0) withRules.add(data.taskId);
    const seen = latest.get(data.taskId);
    if (!seen || seen.data.version < data.version) latest.set(data.taskId, { data, deleted: event.type === EventType.TaskDeleted });
  }
  const input = [...latest.values()]
    .filter(({ data }) => !withRules.has(data.taskId))
    .map(({ data, deleted }) => ({
      task_id: data.taskId,
      user_id: data.userId,
      version: data.version,
      title: data.task.title,
      due_at: data.task.dueAt,
      status: data.task.status,
      deleted,
    }));
  if (input.length === 0) return new Set();
  // The outer select sees the rows as before the insert: `current` = the version was already there.
  const { rows } = await runStatement<{ task_id: string; handled: boolean }>(
    tx,
    `with input as (
       select * from jsonb_to_recordset($1::jsonb) as r(task_id uuid, user_id text, version int, title text, due_at timestamptz, status text, deleted boolean)
     ), applied as (
       insert into notifications.tracked_task as t (task_id, user_id, version, title, due_at, status, deleted, updated_at)
       select i.task_id, i.user_id, i.version, i.title, i.due_at, i.status, i.deleted, clock_timestamp() from input i
        where not exists (select 1 from notifications.reminder r where r.user_id = i.user_id and r.task_id = i.task_id)
       on conflict (task_id) do update
         set user_id = excluded.user_id, version = excluded.version, title = excluded.title, due_at = excluded.due_at,
             status = excluded.status, deleted = excluded.deleted, updated_at = excluded.updated_at
         where t.version < excluded.version
       returning t.task_id
     )
     select i.task_id::text as task_id,
            (exists (select 1 from applied a where a.task_id = i.task_id)
             or exists (select 1 from notifications.tracked_task t where t.task_id = i.task_id and t.version >= i.version)) as handled
       from input i`,
    [JSON.stringify(input)],
    { prepared: true },
  );
  const handled = new Set(rows.filter((r) => r.handled).map((r) => r.task_id));
  return new Set(events.filter((e) => handled.has((e.data as TaskEventData).taskId)).map((e) => e.id));
};

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
