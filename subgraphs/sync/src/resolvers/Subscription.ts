import type { SyncContext } from '../context.js';
import type { TaskUpdate } from '../entities/task-update.entity.js';
import type { TaskUpdateFilterInput } from '../feed/task-update-filter.js';
import { traceLinkOf } from '../feed/trace-links.js';

/** Root fields served over graphql-ws; each stream only ever carries the caller's events. */
export const Subscription = {
  taskUpdates: {
    subscribe: (_: unknown, args: { filter?: TaskUpdateFilterInput | null; after?: string | null }, ctx: SyncContext) =>
      ctx.feed.openTaskUpdates(ctx.caller.userId, args.filter, args.after),
    resolve: (update: TaskUpdate & { eventId?: string }, _args: unknown, ctx: SyncContext) => {
      ctx.traceparent = update.eventId ? traceLinkOf(update.eventId) : undefined;
      // The gateway resolves `task` (tasks, audit) for this event: it must reflect this version.
      ctx.causal = { Task: { [update.taskId]: update.version } };
      return update;
    },
  },
  notificationReceived: {
    subscribe: (_: unknown, __: unknown, ctx: SyncContext) => ctx.feed.openReminders(ctx.caller.userId),
    resolve: (reminder: unknown) => reminder,
  },
};
