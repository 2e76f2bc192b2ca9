import type { CreateTaskInput, Priority, TaskFieldsFragment } from '@taskgraph/client';
import { h } from './dom.js';
import {
  browserTimeZone,
  FieldError,
  formatReminder,
  isoToWallTime,
  parseList,
  parseReminders,
  parseTimeZone,
  reminderText,
  wallTimeToIso,
} from './format.js';

export const PRIORITIES: readonly Priority[] = ['LOW', 'MEDIUM', 'HIGH', 'URGENT'];
const RECURRENCE_PRESETS = ['FREQ=DAILY', 'FREQ=WEEKLY', 'FREQ=WEEKLY;BYDAY=MO,WE,FR', 'FREQ=MONTHLY'];

/** Every field of the form, for create and for a full update (null clears). */
export type TaskDraft = Required<Omit<CreateTaskInput, 'reminders'>> & Pick<CreateTaskInput, 'reminders'>;

export interface TaskFormHandlers {
  submit(input: TaskDraft): Promise<void>;
  cancel(): void;
}

export interface TaskFormOptions {
  /** Values to show instead of the task's (the user's edits kept across a reload). */
  draft?: TaskDraft;
  /** A message above the buttons (e.g. what someone else changed meanwhile). */
  notice?: string;
}

const FIELDS = ['title', 'notes', 'dueAt', 'timeZone', 'priority', 'tags', 'recurrence', 'reminders'] as const;
type FieldName = (typeof FIELDS)[number];

/**
 * The create / edit form: title, notes, due date and time (in the task's time zone), time zone,
 * priority, tags, recurrence, reminders. Errors show next to the field they concern, in words.
 */
export function taskForm(task: TaskFieldsFragment | undefined, handlers: TaskFormHandlers, options: TaskFormOptions = {}): HTMLFormElement {
  const initial = options.draft ?? task;
  const zone = initial?.timeZone ?? browserTimeZone();
  const title = h('input', { name: 'title', maxlength: 500, value: initial?.title ?? '', 'data-testid': 'task-title' });
  const notes = h('textarea', { name: 'notes', rows: 2, value: initial?.notes ?? '' });
  const dueAt = h('input', {
    name: 'dueAt',
    type: 'datetime-local',
    value: isoToWallTime(initial?.dueAt, zone),
    'data-testid': 'task-due',
  });
  const timeZone = h('input', { name: 'timeZone', value: zone, 'data-testid': 'task-time-zone' });
  const priority = h(
    'select',
    { name: 'priority', 'data-testid': 'task-priority' },
    PRIORITIES.map((p) => h('option', { value: p, selected: (initial?.priority ?? 'MEDIUM') === p }, p.toLowerCase())),
  );
  const tags = h('input', { name: 'tags', placeholder: 'work, home', value: initial?.tags?.join(', ') ?? '', 'data-testid': 'task-tags' });
  const recurrence = h('input', {
    name: 'recurrence',
    list: 'recurrence-presets',
    placeholder: 'RRULE, e.g. FREQ=WEEKLY',
    value: initial?.recurrence ?? '',
    'data-testid': 'task-recurrence',
  });
  const rules = options.draft ? (options.draft.reminders ?? []) : (task?.reminderRules ?? []);
  const reminders = h('input', {
    name: 'reminders',
    placeholder: 'PT15M, P1D or 2026-12-01 08:30',
    value: rules.map((r) => reminderText(r, zone)).join(', '),
    title: rules.map((r) => formatReminder(r, zone)).join('; '),
    'data-testid': 'task-reminders',
  });
  const errors = new Map<FieldName, HTMLElement>(
    FIELDS.map((name) => [name, h('small', { class: 'field-error', role: 'alert', 'data-testid': `field-error-${name}`, hidden: true })]),
  );
  const field = (label: string, name: FieldName, control: HTMLElement) =>
    h('label', { class: 'field' }, h('span', null, label), control, errors.get(name) ?? null);
  const formError = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'form-error' });
  const save = h('button', { type: 'submit', class: 'primary', 'data-testid': 'task-save' }, task ? 'Save' : 'Add task');

  const form = h(
    'form',
    { class: 'task-form', 'data-testid': 'task-form', novalidate: true },
    h(
      'datalist',
      { id: 'recurrence-presets' },
      RECURRENCE_PRESETS.map((p) => h('option', { value: p })),
    ),
    h('div', { class: 'row' }, field('Title', 'title', title), field('Priority', 'priority', priority)),
    field('Notes', 'notes', notes),
    h('div', { class: 'row' }, field('Due (in the time zone beside it)', 'dueAt', dueAt), field('Time zone', 'timeZone', timeZone)),
    h(
      'div',
      { class: 'row' },
      field('Tags', 'tags', tags),
      field('Repeats', 'recurrence', recurrence),
      field('Reminders', 'reminders', reminders),
    ),
    options.notice ? h('p', { class: 'notice', role: 'status', 'data-testid': 'form-notice' }, options.notice) : null,
    formError,
    h('div', { class: 'actions' }, save, task ? h('button', { type: 'button', onclick: () => handlers.cancel() }, 'Cancel') : null),
  );

  const clearErrors = () => {
    formError.textContent = '';
    for (const element of errors.values()) {
      element.textContent = '';
      element.hidden = true;
    }
  };
  const showError = (error: unknown) => {
    const { field: name, message } = describeFieldError(error);
    const slot = name ? errors.get(name as FieldName) : undefined;
    if (slot) {
      slot.textContent = message;
      slot.hidden = false;
    } else formError.textContent = message;
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors();
    save.disabled = true;
    try {
      if (!title.value.trim()) throw new FieldError('title', 'Give the task a title.');
      const zoneName = parseTimeZone(timeZone.value);
      await handlers.submit({
        title: title.value.trim(),
        notes: notes.value.trim() || null,
        priority: priority.value as Priority,
        tags: parseList(tags.value),
        dueAt: dueAt.value ? wallTimeToIso(dueAt.value, zoneName) : null,
        timeZone: zoneName,
        recurrence: recurrence.value.trim() || null,
        reminders: parseReminders(reminders.value, zoneName),
      });
      if (!task) {
        form.reset();
        timeZone.value = browserTimeZone();
      }
    } catch (e) {
      showError(e);
    } finally {
      save.disabled = false;
    }
  });
  return form;
}

/** The field an error concerns (the gateway's `extensions.field`, or a FieldError's) and its text for people. */
export function describeFieldError(error: unknown): { field?: string; message: string } {
  if (error instanceof FieldError) return { field: error.field, message: error.message };
  const errors = (error as { errors?: ReadonlyArray<{ extensions?: Record<string, unknown> }> }).errors;
  const field = errors?.[0]?.extensions?.field;
  return { ...(typeof field === 'string' ? { field } : {}), message: describeError(error) };
}

const FRIENDLY: Record<string, string> = {
  CONFLICT: 'Someone else changed this task in the meantime.',
  NOT_FOUND: 'This task no longer exists.',
  UNAUTHENTICATED: 'Your session has ended. Sign in again.',
  FORBIDDEN: 'You are not allowed to do that.',
  NETWORK_ERROR: 'The server cannot be reached. Check the connection and try again.',
  UNAVAILABLE: 'The service is busy or restarting. Try again in a moment.',
  RATE_LIMITED: 'Too many requests. Wait a moment and try again.',
  INTERNAL_SERVER_ERROR: 'Something went wrong on the server. Try again.',
};

/** An error as a sentence for people: no codes, first letter capitalised, ending with a full stop. */
export function describeError(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && code !== 'BAD_USER_INPUT' && FRIENDLY[code]) return FRIENDLY[code];
  const message = error instanceof Error ? error.message : String(error);
  const sentence = message.charAt(0).toUpperCase() + message.slice(1);
  return /[.!?]$/.test(sentence) ? sentence : `${sentence}.`;
}
