import type { Priority, TaskFilter, TaskOrder, TaskStatus } from '@taskgraph/client';
import { h } from './dom.js';
import { PRIORITIES } from './task-form.js';

const ORDERS: readonly [TaskOrder, string][] = [
  ['CREATED_AT_DESC', 'newest'],
  ['CREATED_AT_ASC', 'oldest'],
  ['UPDATED_AT_DESC', 'recently changed'],
  ['DUE_AT_ASC', 'due soonest'],
  ['PRIORITY_DESC', 'priority'],
];

/** Search, status, priority, tag and order; calls `apply` on every change (typing is debounced). */
export function filtersForm(apply: (next: { filter: TaskFilter; orderBy: TaskOrder }) => void): HTMLFormElement {
  const search = h('input', { type: 'search', placeholder: 'Search title or notes', 'data-testid': 'filter-search' });
  const status = h(
    'select',
    { 'data-testid': 'filter-status' },
    h('option', { value: '' }, 'any status'),
    h('option', { value: 'OPEN' }, 'open'),
    h('option', { value: 'DONE' }, 'done'),
  );
  const priority = h(
    'select',
    { 'data-testid': 'filter-priority' },
    h('option', { value: '' }, 'any priority'),
    PRIORITIES.map((p) => h('option', { value: p }, p.toLowerCase())),
  );
  const tag = h('input', { placeholder: 'tag', size: 10, 'data-testid': 'filter-tag' });
  const order = h(
    'select',
    { 'data-testid': 'filter-order' },
    ORDERS.map(([value, label]) => h('option', { value }, label)),
  );

  const read = () => {
    const filter: TaskFilter = {};
    if (search.value.trim()) filter.search = search.value.trim();
    if (status.value) filter.status = status.value as TaskStatus;
    if (priority.value) filter.priority = [priority.value as Priority];
    if (tag.value.trim()) filter.tags = [tag.value.trim().replace(/^#/, '')];
    apply({ filter, orderBy: order.value as TaskOrder });
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const debounced = () => {
    clearTimeout(timer);
    timer = setTimeout(read, 250);
  };

  const form = h('form', { class: 'filters', role: 'search', onsubmit: (e) => e.preventDefault() }, search, status, priority, tag, order);
  for (const input of [search, tag]) input.addEventListener('input', debounced);
  for (const select of [status, priority, order]) select.addEventListener('change', read);
  return form;
}
