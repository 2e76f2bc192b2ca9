import { toConnection } from '@taskgraph/runtime';
import type { NotificationsContext } from '../context.js';

export const Query = {
  notifications: async (
    _: unknown,
    args: { unreadOnly?: boolean | null; first: number; after?: string | null },
    ctx: NotificationsContext,
  ) => {
    const page = await ctx.notifications.list(ctx.caller.userId, Boolean(args.unreadOnly), args.first, args.after);
    return toConnection(page, args.after);
  },
  unreadNotificationCount: (_: unknown, __: unknown, ctx: NotificationsContext) => ctx.notifications.unreadCount(ctx.caller.userId),
};
