import { MAX_REMINDERS, parseIsoDuration, type ReminderRule } from '@taskgraph/events';
import { AppError, badInput, ErrorCode } from '@taskgraph/runtime';
import type { Priority } from '../entities/task.entity.js';
import { checkRecurrence } from './recurrence.js';
import { isValidTimeZone } from './time-zone.js';

export const LIMITS = { titleMax: 500, notesMax: 20_000, tagsMax: 20, tagMax: 50 } as const;

/** GraphQL `ReminderInput`. */
export interface ReminderInput {
  offset?: string | null;
  at?: Date | null;
}

/** GraphQL `CreateTaskInput` after scalar parsing. */
export interface CreateTaskInput {
  title: string;
  notes?: string | null;
  priority?: Priority | null;
  tags?: string[] | null;
  dueAt?: Date | null;
  timeZone?: string | null;
  recurrence?: string | null;
  reminders?: ReminderInput[] | null;
}

/** GraphQL `UpdateTaskInput`: absent = unchanged, null = cleared. */
export type UpdateTaskInput = { [K in keyof CreateTaskInput]?: CreateTaskInput[K] | null };

/** Validated, normalised fields. */
export interface TaskFields {
  title: string;
  notes: string | null;
  priority: Priority;
  tags: string[];
  dueAt: Date | null;
  timeZone: string | null;
  recurrence: string | null;
  reminders: ReminderRule[];
}

export function validTitle(value: unknown): string {
  if (typeof value !== 'string') throw badInput('title is required', 'title');
  const title = value.trim();
  if (title.length === 0) throw badInput('title must not be empty', 'title');
  if (title.length > LIMITS.titleMax) throw badInput(`title must be at most ${LIMITS.titleMax} characters`, 'title');
  return title;
}

export function validNotes(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  if (value.length > LIMITS.notesMax) throw badInput(`notes must be at most ${LIMITS.notesMax} characters`, 'notes');
  return value;
}

export function validTags(value: string[] | null | undefined): string[] {
  if (!value) return [];
  if (value.length > LIMITS.tagsMax) throw badInput(`at most ${LIMITS.tagsMax} tags`, 'tags');
  const tags: string[] = [];
  for (const raw of value) {
    const tag = raw.trim();
    if (tag.length === 0 || tag.length > LIMITS.tagMax) throw badInput(`each tag must be 1–${LIMITS.tagMax} characters`, 'tags');
    if (!tags.includes(tag)) tags.push(tag);
  }
  return tags;
}

export function validTimeZone(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  if (!isValidTimeZone(value)) throw badInput(`unknown time zone ${JSON.stringify(value.slice(0, 64))}`, 'timeZone');
  return value;
}

export function validRecurrence(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  const check = checkRecurrence(value);
  if (!check.ok) throw badInput(check.reason, 'recurrence');
  return check.rule;
}

export function validReminders(value: ReminderInput[] | null | undefined): ReminderRule[] {
  if (!value) return [];
  if (value.length > MAX_REMINDERS) throw badInput(`at most ${MAX_REMINDERS} reminders`, 'reminders');
  return value.map((r) => {
    const hasOffset = r.offset !== null && r.offset !== undefined;
    const hasAt = r.at !== null && r.at !== undefined;
    if (hasOffset === hasAt) throw badInput('each reminder needs exactly one of offset or at', 'reminders');
    if (hasOffset) {
      const ms = parseIsoDuration(r.offset!);
      if (ms === undefined || ms <= 0) {
        throw badInput(
          `reminder offset ${JSON.stringify(r.offset!.slice(0, 40))} is not a positive ISO-8601 duration like PT15M`,
          'reminders',
        );
      }
      return { offset: r.offset!, at: null };
    }
    return { offset: null, at: r.at!.toISOString() };
  });
}

/** Cross-field rules, checked on the task as it would be after the change. */
export function checkConsistency(fields: TaskFields): void {
  if (fields.recurrence && !fields.dueAt) throw badInput('a recurring task needs a dueAt', 'recurrence');
  for (const rule of fields.reminders) {
    if (rule.offset && !fields.dueAt) throw badInput('a reminder offset needs the task to have a dueAt', 'reminders');
    if (rule.at && fields.dueAt && new Date(rule.at).getTime() > fields.dueAt.getTime()) {
      throw badInput('a reminder cannot be after the due date', 'reminders');
    }
  }
}

export function validateCreate(input: CreateTaskInput): TaskFields {
  const fields: TaskFields = {
    title: validTitle(input.title),
    notes: validNotes(input.notes),
    priority: input.priority ?? 'MEDIUM',
    tags: validTags(input.tags),
    dueAt: input.dueAt ?? null,
    timeZone: validTimeZone(input.timeZone),
    recurrence: validRecurrence(input.recurrence),
    reminders: validReminders(input.reminders),
  };
  checkConsistency(fields);
  return fields;
}

/** Applies an update onto current fields; `undefined` keeps, `null` clears. */
export function validateUpdate(current: TaskFields, input: UpdateTaskInput): TaskFields {
  if ('title' in input && input.title === null) throw badInput('title cannot be null', 'title');
  if ('priority' in input && input.priority === null) throw badInput('priority cannot be null', 'priority');
  const fields: TaskFields = {
    title: input.title === undefined ? current.title : validTitle(input.title),
    notes: input.notes === undefined ? current.notes : validNotes(input.notes),
    priority: input.priority ?? current.priority,
    tags: input.tags === undefined ? current.tags : validTags(input.tags),
    dueAt: input.dueAt === undefined ? current.dueAt : input.dueAt,
    timeZone: input.timeZone === undefined ? current.timeZone : validTimeZone(input.timeZone),
    recurrence: input.recurrence === undefined ? current.recurrence : validRecurrence(input.recurrence),
    reminders: input.reminders === undefined ? current.reminders : validReminders(input.reminders),
  };
  checkConsistency(fields);
  return fields;
}

/** Stale `expectedVersion` → CONFLICT (optimistic concurrency). */
export function checkVersion(expected: number | null | undefined, actual: number): void {
  if (expected !== null && expected !== undefined && expected !== actual) {
    throw new AppError(ErrorCode.CONFLICT, `task was changed: expected version ${expected}, current version is ${actual}`, {
      expectedVersion: expected,
      currentVersion: actual,
    });
  }
}
