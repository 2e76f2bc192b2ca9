import type { SyncContext } from '../context.js';
import type { TaskUpdate as TaskUpdateRow } from '../entities/task-update.entity.js';

/** `task` is a reference the gateway resolves on the tasks subgraph; a deleted task has none. */
export const TaskUpdate = {
  /** The row's log position, as the caller's own opaque cursor. */
  cursor: (update: TaskUpdateRow, _: unknown, ctx: SyncContext) => ctx.feed.cursors.encode(ctx.caller.userId, BigInt(update.cursor)),
  task: (update: TaskUpdateRow) => (update.op === 'DELETED' ? null : { __typename: 'Task', id: update.taskId }),
};
