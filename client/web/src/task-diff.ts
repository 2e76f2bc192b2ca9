import type { TaskFieldsFragment } from '@taskgraph/client';
import { formatInZone, formatReminder } from './format.js';

type Shown = (task: TaskFieldsFragment) => string;

/** The fields a person sees, each as the text it is shown with. */
const FIELDS: ReadonlyArray<[label: string, shown: Shown]> = [
  ['title', (t) => t.title],
  ['notes', (t) => t.notes ?? ''],
  ['status', (t) => t.status.toLowerCase()],
  ['priority', (t) => t.priority.toLowerCase()],
  ['tags', (t) => t.tags.join(', ')],
  ['due', (t) => (t.dueAt ? formatInZone(t.dueAt, t.timeZone) : 'none')],
  ['time zone', (t) => t.timeZone ?? ''],
  ['repeats', (t) => t.recurrence ?? 'never'],
  ['reminders', (t) => t.reminderRules.map((r) => formatReminder(r, t.timeZone)).join('; ')],
];

/** What changed between two versions of a task, for people: `title → “Buy milk”, due → Dec 1, 9:00 AM`. */
export function describeChanges(before: TaskFieldsFragment, after: TaskFieldsFragment): string {
  return FIELDS.filter(([, shown]) => shown(before) !== shown(after))
    .map(([label, shown]) => `${label} → “${shown(after) || 'empty'}”`)
    .join(', ');
}

type Draft = {
  title: string;
  notes: string | null;
  priority: string | null;
  tags: readonly string[] | null;
  dueAt: string | null;
  timeZone: string | null;
  recurrence: string | null;
  reminders?: ReadonlyArray<{ offset?: string | null; at?: string | null }> | null;
};

/** A task's values in the form's shape (what Save would send if nothing were edited). */
function asDraft(task: TaskFieldsFragment): Draft {
  return {
    title: task.title,
    notes: task.notes ?? null,
    priority: task.priority,
    tags: task.tags,
    dueAt: task.dueAt ? new Date(task.dueAt).toISOString() : null,
    timeZone: task.timeZone ?? null,
    recurrence: task.recurrence ?? null,
    reminders: task.reminderRules.map((r) => (r.offset ? { offset: r.offset } : { at: r.at ? new Date(r.at).toISOString() : null })),
  };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * Three-way merge after a CONFLICT: a field the user edited (draft differs from the version the
 * editor was opened on) keeps the user's value; every other field takes the latest version's.
 */
export function mergeDraft<T extends Draft>(stale: TaskFieldsFragment, latest: TaskFieldsFragment, draft: T): T {
  const base = asDraft(stale);
  const theirs = asDraft(latest);
  const merged = { ...draft };
  for (const key of Object.keys(base) as Array<keyof Draft>) {
    if (same(draft[key], base[key])) (merged as Record<string, unknown>)[key] = theirs[key];
  }
  return merged;
}
