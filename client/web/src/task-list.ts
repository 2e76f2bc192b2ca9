import type { TaskFieldsFragment } from '@taskgraph/client';
import { h } from './dom.js';
import { formatInZone, formatReminder } from './format.js';

export interface TaskRowHandlers {
  toggle(task: TaskFieldsFragment): void;
  edit(task: TaskFieldsFragment): void;
  history(task: TaskFieldsFragment): void;
  remove(task: TaskFieldsFragment): void;
}

/** The task list; rows whose id is in `fresh` are highlighted (they just arrived live). */
export function taskList(tasks: readonly TaskFieldsFragment[], handlers: TaskRowHandlers, fresh: ReadonlySet<string>): HTMLElement {
  if (tasks.length === 0) return h('p', { class: 'empty', 'data-testid': 'task-list-empty' }, 'No tasks match.');
  return h(
    'ul',
    { class: 'task-list', 'data-testid': 'task-list' },
    tasks.map((task) => taskRow(task, handlers, fresh.has(task.id))),
  );
}

function taskRow(task: TaskFieldsFragment, handlers: TaskRowHandlers, fresh: boolean): HTMLElement {
  const done = task.status === 'DONE';
  const overdue = !done && task.dueAt !== null && Date.parse(task.dueAt) < Date.now();
  return h(
    'li',
    { class: `task${done ? ' done' : ''}${fresh ? ' fresh' : ''}`, 'data-testid': 'task-row', 'data-task-id': task.id },
    h('input', {
      type: 'checkbox',
      checked: done,
      title: done ? 'Reopen' : 'Complete',
      'aria-label': done ? `Reopen ${task.title}` : `Complete ${task.title}`,
      'data-testid': 'task-toggle',
      onchange: () => handlers.toggle(task),
    }),
    h(
      'div',
      { class: 'task-main' },
      h('span', { class: 'task-title', 'data-testid': 'task-row-title' }, task.title),
      task.notes ? h('span', { class: 'task-notes' }, task.notes) : null,
      h(
        'div',
        { class: 'task-meta' },
        h('span', { class: `chip priority-${task.priority.toLowerCase()}` }, task.priority.toLowerCase()),
        task.tags.map((tag) => h('span', { class: 'chip tag' }, `#${tag}`)),
        task.dueAt ? h('span', { class: `due${overdue ? ' overdue' : ''}` }, `due ${formatInZone(task.dueAt, task.timeZone)}`) : null,
        task.recurrence ? h('span', { class: 'recurrence', title: task.recurrence }, `↻ ${task.recurrence}`) : null,
        task.reminderRules.length > 0
          ? h(
              'span',
              { class: 'reminders', title: task.reminderRules.map((r) => formatReminder(r, task.timeZone)).join('; ') },
              `${task.reminderRules.length} reminder${task.reminderRules.length === 1 ? '' : 's'}`,
            )
          : null,
        h('span', { class: 'version' }, `v${task.version}`),
      ),
    ),
    h(
      'div',
      { class: 'task-actions' },
      h('button', { type: 'button', 'data-testid': 'task-edit', onclick: () => handlers.edit(task) }, 'Edit'),
      h('button', { type: 'button', 'data-testid': 'task-history', onclick: () => handlers.history(task) }, 'History'),
      h('button', { type: 'button', class: 'danger', 'data-testid': 'task-delete', onclick: () => handlers.remove(task) }, 'Delete'),
    ),
  );
}
