import type { AuditEntryFieldsFragment, TaskRemindersQuery } from '@taskgraph/client';
import { h } from './dom.js';
import { formatDateTime, formatReminder, humanizeInstants } from './format.js';

/** A field value as people read it: nothing, a local date and time, or the value itself. */
const show = (value: unknown): string =>
  value === null || value === undefined || (Array.isArray(value) && value.length === 0)
    ? 'none'
    : typeof value === 'string'
      ? humanizeInstants(value)
      : Array.isArray(value) && value.every((v) => typeof v === 'string')
        ? value.join(', ')
        : humanizeInstants(JSON.stringify(value));

type Reminder = NonNullable<NonNullable<TaskRemindersQuery['task']>['reminders']>[number];

/**
 * A task's audit history (Task.history, audit subgraph), newest first, and its reminders with their
 * scheduling state (Task.reminders, notifications subgraph).
 */
export function historyPanel(
  title: string,
  entries: readonly AuditEntryFieldsFragment[],
  reminders: readonly Reminder[],
  close: () => void,
): HTMLElement {
  return h(
    'section',
    { class: 'history', 'data-testid': 'history-panel' },
    h(
      'header',
      null,
      h('h2', null, `History: ${title}`),
      h('button', { type: 'button', onclick: close, 'aria-label': 'Close history' }, '×'),
    ),
    reminders.length > 0 ? h('h3', null, 'Reminders') : null,
    reminders.length > 0
      ? h(
          'ul',
          { class: 'reminder-states' },
          reminders.map((r) =>
            h(
              'li',
              { 'data-testid': 'reminder-state', 'data-status': r.status },
              `${formatReminder(r)}: ${r.status.toLowerCase()}${r.fireAt ? ` (fires ${formatDateTime(r.fireAt)})` : ''}`,
            ),
          ),
        )
      : null,
    h('h3', null, 'Changes'),
    entries.length === 0
      ? h('p', { class: 'empty' }, 'No entries yet (audit records each change as its event arrives).')
      : h(
          'ol',
          null,
          entries.map((entry) =>
            h(
              'li',
              { 'data-testid': 'history-entry', 'data-action': entry.action },
              h(
                'div',
                null,
                h('strong', null, entry.action.toLowerCase()),
                ` by ${entry.actor} · ${formatDateTime(entry.occurredAt)} · v${entry.version}`,
              ),
              entry.changes.length > 0
                ? h(
                    'ul',
                    { class: 'changes' },
                    entry.changes.map((c) => h('li', null, h('code', null, c.field), ` ${show(c.from)} → ${show(c.to)}`)),
                  )
                : null,
            ),
          ),
        ),
  );
}
