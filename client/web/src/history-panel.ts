import type { AuditEntryFieldsFragment, TaskRemindersQuery } from '@taskgraph/client';
import { h } from './dom.js';
import { formatDateTime, formatReminder } from './format.js';

const show = (value: unknown): string =>
  value === null || value === undefined ? '∅' : typeof value === 'string' ? value : JSON.stringify(value);

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
    reminders.length > 0
      ? h(
          'ul',
          { class: 'reminder-states' },
          reminders.map((r) =>
            h(
              'li',
              { 'data-testid': 'reminder-state', 'data-status': r.status },
              `reminder ${formatReminder(r)}: ${r.status.toLowerCase()}${r.fireAt ? ` (fires ${formatDateTime(r.fireAt)})` : ''}`,
            ),
          ),
        )
      : null,
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
