import { checkPageSize, isUuid, toConnection } from '@taskgraph/runtime';
import type { AuditContext } from '../context.js';
import { decodeHistoryCursor } from '../repositories/audit-cursor.js';

/** The slice of the `Task` entity audit contributes: its history. */
export interface TaskReference {
  id: string;
}

export const Task = {
  // Audit cannot know whether the task still exists (tasks owns that): every reference resolves,
  // and a deleted task's history stays readable.
  __resolveReference: (ref: TaskReference): TaskReference => ({ id: ref.id }),
  history: async (task: TaskReference, args: { first: number; after?: string | null }, ctx: AuditContext) => {
    checkPageSize(args.first);
    const afterSeq = args.after ? decodeHistoryCursor(args.after) : null;
    if (!isUuid(task.id)) return toConnection({ edges: [], hasNextPage: false }, args.after);
    return toConnection(await ctx.history.load({ taskId: task.id, first: args.first, afterSeq }), args.after);
  },
};
