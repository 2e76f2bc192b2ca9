import { isUuid, notFound } from '@taskgraph/runtime';
import type { NotificationsContext } from '../context.js';

export const Mutation = {
  markNotificationRead: async (_: unknown, args: { id: string }, ctx: NotificationsContext) => {
    // Another user's notification is NOT_FOUND, never FORBIDDEN: its existence is not revealed.
    const marked = isUuid(args.id) ? await ctx.notifications.markRead(ctx.caller.userId, args.id, new Date()) : null;
    if (!marked) throw notFound('Notification', args.id.slice(0, 64));
    return marked;
  },
  markAllNotificationsRead: (_: unknown, __: unknown, ctx: NotificationsContext) =>
    ctx.notifications.markAllRead(ctx.caller.userId, new Date()),
};
