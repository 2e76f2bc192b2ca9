import { badInput, isUuid } from '@taskgraph/runtime';
import type { TaskUpdateMatch } from '../repositories/task-update.repository.js';

/** `TaskUpdateFilter` as GraphQL passes it. */
export interface TaskUpdateFilterInput {
  taskIds?: readonly string[] | null;
  tags?: readonly string[] | null;
}

export const MAX_FILTER_TASK_IDS = 1_000;
export const MAX_FILTER_TAGS = 100;

/**
 * Validates the filter. Absent/null lists do not constrain; an empty list matches nothing. Ids that
 * are not UUIDs can never match a task and are ignored (like `task(id:)` answering null).
 */
export function toMatch(filter: TaskUpdateFilterInput | null | undefined): TaskUpdateMatch {
  const taskIds = filter?.taskIds ?? null;
  const tags = filter?.tags ?? null;
  if (taskIds && taskIds.length > MAX_FILTER_TASK_IDS)
    throw badInput(`filter.taskIds accepts at most ${MAX_FILTER_TASK_IDS} ids`, 'filter.taskIds');
  if (tags && tags.length > MAX_FILTER_TAGS) throw badInput(`filter.tags accepts at most ${MAX_FILTER_TAGS} tags`, 'filter.tags');
  return {
    taskIds: taskIds ? new Set(taskIds.filter(isUuid).map((id) => id.toLowerCase())) : null,
    tags: tags ? new Set(tags) : null,
  };
}
