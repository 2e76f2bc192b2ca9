import { toConnection } from '@taskgraph/runtime';
import type { AuditContext } from '../context.js';
import type { AuditFilter } from '../repositories/audit-entry.repository.js';

export const Query = {
  auditLog: async (_: unknown, args: { filter?: AuditFilter | null; first: number; after?: string | null }, ctx: AuditContext) =>
    toConnection(await ctx.entries.list(ctx.caller.userId, args.filter ?? {}, args.first, args.after), args.after),
};
