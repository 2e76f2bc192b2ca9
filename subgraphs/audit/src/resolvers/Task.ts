import { checkPageSize, isUuid, toConnection } from '@taskgraph/runtime';
import type { AuditContext } from '../context.js';
import { decodeHistoryCursor } from '../repositories/audit-cursor.js';

/** The slice of the `Task` entity audit contributes: its history. */
export interface TaskReference {
  id: string;
  /** The version this history must include (an event's entity fetch; see `__resolveReference`). */
  minVersion?: number | undefined;
}

/**
 * A representation from the gateway. For a subscription event it carries `__causal: { version }`
 * (the task version of the event): the history must then include that version (causal freshness,
 * ARCHITECTURE §6), waiting for this subgraph's consumer up to `CAUSAL_WAIT_MS`.
 */
export interface TaskRepresentation {
  id: string;
  __causal?: { version?: unknown } | null;
}

export const Task = {
  // Audit cannot know whether the task still exists (tasks owns that): every reference resolves,
  // and a deleted task's history stays readable.
  __resolveReference: (ref: TaskRepresentation): TaskReference => {
    const version = ref.__causal?.version;
    return Number.isInteger(version) ? { id: ref.id, minVersion: version as number } : { id: ref.id };
  },
  history: async (task: TaskReference, args: { first: number; after?: string | null }, ctx: AuditContext) => {
    checkPageSize(args.first);
    const afterSeq = args.after ? decodeHistoryCursor(args.after) : null;
    if (!isUuid(task.id)) return toConnection({ edges: [], hasNextPage: false }, args.after);
    if (task.minVersion !== undefined) await ctx.causal.until(task.id, task.minVersion);
    return toConnection(await ctx.history.load({ taskId: task.id, first: args.first, afterSeq, minVersion: task.minVersion }), args.after);
  },
};
