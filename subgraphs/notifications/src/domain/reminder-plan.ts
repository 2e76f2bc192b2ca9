import { MAX_REMINDERS, parseIsoDuration, type ReminderRule, reminderFireTime } from '@taskgraph/events';
import type { ReminderStatus } from '../entities/reminder.entity.js';

/**
 * Why a task event's reminder rules cannot be honoured, or `undefined` when they can. Tasks
 * validates input, so this only trips on a producer bug or a tampered event: the event is then
 * DROPped (dead-lettered) rather than scheduled.
 */
export function invalidRulesReason(rules: readonly ReminderRule[]): string | undefined {
  if (rules.length > MAX_REMINDERS) return `${rules.length} reminders, at most ${MAX_REMINDERS}`;
  for (const [n, rule] of rules.entries()) {
    if (rule.offset) {
      const ms = parseIsoDuration(rule.offset);
      if (ms === undefined || ms <= 0)
        return `reminder ${n}: offset ${JSON.stringify(rule.offset.slice(0, 40))} is not a positive ISO-8601 duration`;
    } else if (!rule.at || Number.isNaN(new Date(rule.at).getTime())) {
      return `reminder ${n}: neither a valid offset nor at`;
    }
  }
  return undefined;
}

/** The scheduling state of one stored reminder. */
export interface ReminderState {
  n: number;
  fireAt: Date | null;
  status: ReminderStatus;
  generation: number;
}

/**
 * What to do with one rule:
 * - `keep`: same fire time as stored and not cancelled: nothing to (re)schedule.
 * - `schedule`: (re)arm a job at `fireAt` (overwrite: a moved due date moves the job).
 * - `fire`: the fire time has just passed (within the grace window): notify now.
 * - `miss`: the fire time passed longer ago than the grace window: never notify.
 * - `cancel`: the task is done/deleted, or the rule has no fire time.
 */
export type ReminderAction = 'keep' | 'schedule' | 'fire' | 'miss' | 'cancel';

export interface PlannedReminder {
  n: number;
  rule: ReminderRule;
  fireAt: Date | null;
  action: ReminderAction;
  /** Status after the action (`fire` → FIRED once the notification exists). */
  status: ReminderStatus;
  generation: number;
}

export interface ReminderPlan {
  /** One entry per rule, index = `n`. */
  reminders: PlannedReminder[];
  /** Stored reminders whose rule was removed from the task. */
  removed: number[];
  /** Indexes whose existing job must be deleted (it was scheduled and is not being overwritten). */
  unschedule: number[];
}

export interface PlanInput {
  rules: readonly ReminderRule[];
  dueAt: Date | null;
  /** False once the task is DONE or deleted: nothing may fire. */
  active: boolean;
  /** Version of the event being applied: the generation of anything it (re)arms. */
  version: number;
  existing: readonly ReminderState[];
  now: Date;
  graceMs: number;
}

const sameTime = (a: Date | null, b: Date | null) => (a === null ? b === null : b !== null && a.getTime() === b.getTime());

/**
 * Computes the reminders of a task from its latest snapshot (pure). The snapshot is complete, so
 * the plan depends only on it and on what is stored, never on the event type: a reopened task
 * re-arms its cancelled future reminders, a completed one cancels them.
 */
export function planReminders(input: PlanInput): ReminderPlan {
  const byIndex = new Map(input.existing.map((r) => [r.n, r]));
  const unschedule: number[] = [];
  const reminders = input.rules.map((rule, n): PlannedReminder => {
    const previous = byIndex.get(n);
    const fireAt = reminderFireTime(rule, input.dueAt) ?? null;
    const unchanged = previous !== undefined && sameTime(previous.fireAt, fireAt);
    const keep = (): PlannedReminder => ({ n, rule, fireAt, action: 'keep', status: previous!.status, generation: previous!.generation });
    const next = (action: ReminderAction, status: ReminderStatus, generation = input.version): PlannedReminder => {
      // The old job is overwritten by `schedule`; in every other case it must go.
      if (previous?.status === 'SCHEDULED' && action !== 'schedule') unschedule.push(n);
      return { n, rule, fireAt, action, status, generation };
    };

    if (!input.active || fireAt === null) {
      if (unchanged && (previous.status === 'FIRED' || previous.status === 'MISSED' || previous.status === 'CANCELLED')) return keep();
      return next('cancel', 'CANCELLED', previous?.generation ?? input.version);
    }
    if (unchanged && previous.status !== 'CANCELLED') return keep();
    const now = input.now.getTime();
    if (fireAt.getTime() > now) return next('schedule', 'SCHEDULED');
    if (fireAt.getTime() >= now - input.graceMs) return next('fire', 'FIRED');
    return next('miss', 'MISSED');
  });
  const removed = input.existing.filter((r) => r.n >= input.rules.length).map((r) => r.n);
  for (const r of input.existing) if (r.n >= input.rules.length && r.status === 'SCHEDULED') unschedule.push(r.n);
  return { reminders, removed, unschedule };
}
