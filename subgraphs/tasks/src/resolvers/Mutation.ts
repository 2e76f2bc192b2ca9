import { isUuid, notFound } from '@taskgraph/runtime';
import type { TasksContext } from '../context.js';
import { TaskCommands } from '../domain/task-commands.js';
import type { CreateTaskInput, UpdateTaskInput } from '../domain/task-input.js';

type ById = { id: string; expectedVersion?: number | null };

function commands(ctx: TasksContext, id?: string): TaskCommands {
  if (id !== undefined && !isUuid(id)) throw notFound('Task', id.slice(0, 64));
  return new TaskCommands(ctx.em);
}

export const Mutation = {
  createTask: (_: unknown, args: { input: CreateTaskInput }, ctx: TasksContext) => commands(ctx).create(ctx.caller, args.input),
  updateTask: (_: unknown, args: ById & { input: UpdateTaskInput }, ctx: TasksContext) =>
    commands(ctx, args.id).update(ctx.caller, args.id, args.input, args.expectedVersion),
  completeTask: (_: unknown, args: ById, ctx: TasksContext) => commands(ctx, args.id).complete(ctx.caller, args.id, args.expectedVersion),
  reopenTask: (_: unknown, args: ById, ctx: TasksContext) => commands(ctx, args.id).reopen(ctx.caller, args.id, args.expectedVersion),
  deleteTask: async (_: unknown, args: ById, ctx: TasksContext) => {
    const deleted = await commands(ctx, args.id).delete(ctx.caller, args.id, args.expectedVersion);
    return { id: deleted.id, version: deleted.version };
  },
};
