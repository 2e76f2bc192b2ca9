import type { CreateTaskInput, Priority, TaskFieldsFragment } from '@taskgraph/client';
import { h } from './dom.js';
import { browserTimeZone, formatReminder, fromLocalInput, parseList, parseReminders, toLocalInput } from './format.js';

export const PRIORITIES: readonly Priority[] = ['LOW', 'MEDIUM', 'HIGH', 'URGENT'];
const RECURRENCE_PRESETS = ['FREQ=DAILY', 'FREQ=WEEKLY', 'FREQ=WEEKLY;BYDAY=MO,WE,FR', 'FREQ=MONTHLY'];

export interface TaskFormHandlers {
  /** Every field, for create and for a full update (null clears). */
  submit(input: Required<Omit<CreateTaskInput, 'reminders'>> & Pick<CreateTaskInput, 'reminders'>): Promise<void>;
  cancel(): void;
}

/** The create / edit form: title, notes, due date, time zone, priority, tags, recurrence, reminders. */
export function taskForm(task: TaskFieldsFragment | undefined, handlers: TaskFormHandlers): HTMLFormElement {
  const field = (label: string, control: HTMLElement) => h('label', { class: 'field' }, h('span', null, label), control);
  const title = h('input', { name: 'title', required: true, maxlength: 500, value: task?.title ?? '', 'data-testid': 'task-title' });
  const notes = h('textarea', { name: 'notes', rows: 2, value: task?.notes ?? '' });
  const dueAt = h('input', { name: 'dueAt', type: 'datetime-local', value: toLocalInput(task?.dueAt), 'data-testid': 'task-due' });
  const timeZone = h('input', { name: 'timeZone', value: task?.timeZone ?? browserTimeZone() });
  const priority = h(
    'select',
    { name: 'priority', 'data-testid': 'task-priority' },
    PRIORITIES.map((p) => h('option', { value: p, selected: (task?.priority ?? 'MEDIUM') === p }, p.toLowerCase())),
  );
  const tags = h('input', { name: 'tags', placeholder: 'work, home', value: task?.tags.join(', ') ?? '', 'data-testid': 'task-tags' });
  const recurrence = h('input', {
    name: 'recurrence',
    list: 'recurrence-presets',
    placeholder: 'RRULE, e.g. FREQ=WEEKLY',
    value: task?.recurrence ?? '',
    'data-testid': 'task-recurrence',
  });
  const reminders = h('input', {
    name: 'reminders',
    placeholder: 'PT15M, P1D',
    value: task?.reminderRules.map((r) => r.offset ?? r.at ?? '').join(', ') ?? '',
    title: task?.reminderRules.map(formatReminder).join('; ') ?? '',
    'data-testid': 'task-reminders',
  });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const save = h('button', { type: 'submit', class: 'primary', 'data-testid': 'task-save' }, task ? 'Save' : 'Add task');

  const form = h(
    'form',
    { class: 'task-form', 'data-testid': 'task-form' },
    h(
      'datalist',
      { id: 'recurrence-presets' },
      RECURRENCE_PRESETS.map((p) => h('option', { value: p })),
    ),
    h('div', { class: 'row' }, field('Title', title), field('Priority', priority)),
    field('Notes', notes),
    h('div', { class: 'row' }, field('Due', dueAt), field('Time zone', timeZone)),
    h('div', { class: 'row' }, field('Tags', tags), field('Repeats', recurrence), field('Reminders', reminders)),
    error,
    h('div', { class: 'actions' }, save, task ? h('button', { type: 'button', onclick: () => handlers.cancel() }, 'Cancel') : null),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    save.disabled = true;
    try {
      await handlers.submit({
        title: title.value.trim(),
        notes: notes.value.trim() || null,
        priority: priority.value as Priority,
        tags: parseList(tags.value),
        dueAt: fromLocalInput(dueAt.value),
        timeZone: timeZone.value.trim() || null,
        recurrence: recurrence.value.trim() || null,
        reminders: parseReminders(reminders.value),
      });
      if (!task) form.reset();
    } catch (e) {
      error.textContent = describeError(e);
    } finally {
      save.disabled = false;
    }
  });
  return form;
}

/** `CODE: message` for a TaskgraphError, the message otherwise. */
export function describeError(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  return typeof code === 'string' ? `${code}: ${message}` : message;
}
