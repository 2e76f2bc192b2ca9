import type { SyncContext } from '../context.js';

export const Query = {
  syncRetention: (_: unknown, __: unknown, ctx: SyncContext) => ctx.feed.retention(ctx.caller.userId),
};
