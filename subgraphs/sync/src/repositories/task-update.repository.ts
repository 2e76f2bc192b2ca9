import type { FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@taskgraph/runtime';
import { type TaskUpdate, TaskUpdateSchema } from '../entities/task-update.entity.js';

/** `TaskUpdateFilter` after validation: `null` means "no constraint", an empty set matches nothing. */
export interface TaskUpdateMatch {
  taskIds: ReadonlySet<string> | null;
  tags: ReadonlySet<string> | null;
}

/** Where the retained window stands, for one user (see `resumeFrom`). */
export interface FeedPosition {
  /** Highest cursor known: the newest row, or the highest pruned one, or the window start. */
  head: bigint;
  /** Highest of this user's cursors the pruner deleted (0: none). */
  userPrunedThrough: bigint;
  /** This user's newest retained cursor (0: none). */
  userNewest: bigint;
  /** The window is complete from here on: cursors before it were never ingested. */
  completeFrom: bigint;
}

export const matches = (match: TaskUpdateMatch, update: TaskUpdate): boolean =>
  (match.taskIds === null || match.taskIds.has(update.taskId)) && (match.tags === null || update.tags.some((tag) => match.tags!.has(tag)));

/** Largest of non-negative cursors (Math.max does not take bigint). */
export function maxOf(...values: bigint[]): bigint {
  let max = 0n;
  for (const value of values) if (value > max) max = value;
  return max;
}

const big = (value: unknown): bigint => (value === null || value === undefined ? 0n : BigInt(value as string));

/** Reads the retained window (schema `sync`). One instance per request / per query (forked EM). */
export class TaskUpdateRepository {
  constructor(private readonly em: EntityManager) {}

  /**
   * The user's updates after `after` (and up to `upTo`, when given) that match, in cursor order
   * (index `task_update_user_cursor_idx`).
   */
  async page(userId: string, after: bigint, match: TaskUpdateMatch, limit: number, upTo?: bigint): Promise<TaskUpdate[]> {
    const cursor = upTo === undefined ? { $gt: after.toString() } : { $gt: after.toString(), $lte: upTo.toString() };
    const where: FilterQuery<TaskUpdate> = { userId, cursor };
    if (match.taskIds) where.taskId = { $in: [...match.taskIds] };
    if (match.tags) where.tags = { $overlap: [...match.tags] };
    return this.em.find(TaskUpdateSchema, where, { orderBy: { cursor: 'asc' }, limit, disableIdentityMap: true });
  }

  /** Highest of `userId`'s cursors the pruner deleted (0: none). */
  async prunedThrough(userId: string): Promise<bigint> {
    const rows = (await this.em
      .getConnection()
      .execute(`select "pruned_through" from "sync"."user_watermark" where "user_id" = ?`, [userId])) as { pruned_through: string }[];
    return big(rows[0]?.pruned_through);
  }

  /** The highest cursor the feed knows (same as `position(…).head`). */
  async head(): Promise<bigint> {
    return (await this.position('')).head;
  }

  async position(userId: string): Promise<FeedPosition> {
    const rows = (await this.em.getConnection().execute(
      `select (select max("cursor") from "sync"."task_update") as newest,
              (select max("cursor") from "sync"."task_update" where "user_id" = ?) as user_newest,
              (select "pruned_through" from "sync"."user_watermark" where "user_id" = ?) as user_pruned,
              fs."complete_from", fs."pruned_through"
         from (select 1) as one left join "sync"."feed_state" fs on fs."id" = 1`,
      [userId, userId],
    )) as {
      newest: string | null;
      user_newest: string | null;
      user_pruned: string | null;
      complete_from: string | null;
      pruned_through: string | null;
    }[];
    const row = rows[0];
    const completeFrom = big(row?.complete_from);
    const newest = big(row?.newest);
    const prunedThrough = big(row?.pruned_through);
    const head = maxOf(newest, prunedThrough, completeFrom);
    return { head, userPrunedThrough: big(row?.user_pruned), userNewest: big(row?.user_newest), completeFrom };
  }
}
