import type { TasksContext } from '../context.js';
import type { TaskFilter } from '../repositories/task.repository.js';
import type { TaskOrder } from '../repositories/task-cursor.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (id: string) => UUID.test(id);

export const Query = {
  task: (_: unknown, args: { id: string }, ctx: TasksContext) => (isUuid(args.id) ? ctx.taskById.load(args.id) : null),
  tasks: async (
    _: unknown,
    args: { filter?: TaskFilter | null; orderBy: TaskOrder; first: number; after?: string | null },
    ctx: TasksContext,
  ) => {
    const page = await ctx.tasks.list(ctx.caller.userId, args.filter ?? {}, args.orderBy, args.first, args.after);
    return {
      edges: page.edges,
      pageInfo: {
        hasNextPage: page.hasNextPage,
        hasPreviousPage: Boolean(args.after),
        startCursor: page.edges[0]?.cursor ?? null,
        endCursor: page.edges.at(-1)?.cursor ?? null,
      },
    };
  },
};
