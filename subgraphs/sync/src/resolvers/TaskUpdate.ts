import type { TaskUpdate as TaskUpdateRow } from '../entities/task-update.entity.js';

/** `task` is a reference the gateway resolves on the tasks subgraph; a deleted task has none. */
export const TaskUpdate = {
  task: (update: TaskUpdateRow) => (update.op === 'DELETED' ? null : { __typename: 'Task', id: update.taskId }),
};
