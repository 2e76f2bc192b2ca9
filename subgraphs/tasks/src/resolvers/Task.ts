import { badInput, isUuid } from '@taskgraph/runtime';
import type { TasksContext } from '../context.js';
import { MAX_OCCURRENCES, nextOccurrences } from '../domain/recurrence.js';
import { PRIORITY_BY_RANK, type Task as TaskRow } from '../entities/task.entity.js';

export const Task = {
  __resolveReference: (ref: { id: string }, ctx: TasksContext) => (isUuid(ref.id) ? ctx.taskById.load(ref.id) : null),
  priority: (task: TaskRow) => PRIORITY_BY_RANK[task.priorityRank],
  reminderRules: (task: TaskRow) => task.reminders.map((r) => ({ offset: r.offset ?? null, at: r.at ? new Date(r.at) : null })),
  nextOccurrences: (task: TaskRow, args: { count: number }) => {
    if (!Number.isInteger(args.count) || args.count < 1 || args.count > MAX_OCCURRENCES) {
      throw badInput(`count must be between 1 and ${MAX_OCCURRENCES}`, 'count');
    }
    if (!task.recurrence || !task.dueAt) return [];
    return nextOccurrences(task.recurrence, task.seriesStart ?? task.dueAt, task.timeZone ?? 'UTC', task.dueAt, args.count);
  },
};
