import { isUuid, toConnection } from '@taskgraph/runtime';
import type { TasksContext } from '../context.js';
import type { TaskFilter } from '../repositories/task.repository.js';
import type { TaskOrder } from '../repositories/task-cursor.js';

export const Query = {
  task: (_: unknown, args: { id: string }, ctx: TasksContext) => (isUuid(args.id) ? ctx.taskById.load(args.id) : null),
  tasks: async (
    _: unknown,
    args: { filter?: TaskFilter | null; orderBy: TaskOrder; first: number; after?: string | null },
    ctx: TasksContext,
  ) => {
    const page = await ctx.tasks.list(ctx.caller.userId, args.filter ?? {}, args.orderBy, args.first, args.after);
    return toConnection(page, args.after);
  },
};
