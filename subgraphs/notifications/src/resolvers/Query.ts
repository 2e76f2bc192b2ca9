import type { NotificationsContext } from '../context.js';

export const Query = {
  notifications: async (
    _: unknown,
    args: { unreadOnly?: boolean | null; first: number; after?: string | null },
    ctx: NotificationsContext,
  ) => {
    const page = await ctx.notifications.list(ctx.caller.userId, Boolean(args.unreadOnly), args.first, args.after);
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
  unreadNotificationCount: (_: unknown, __: unknown, ctx: NotificationsContext) => ctx.notifications.unreadCount(ctx.caller.userId),
};
