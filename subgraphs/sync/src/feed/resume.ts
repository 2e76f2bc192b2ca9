import { AppError, ErrorCode } from '@taskgraph/runtime';
import { type FeedPosition, maxOf } from '../repositories/task-update.repository.js';

const resync = (message: string, after: bigint, oldest: bigint) =>
  new AppError(ErrorCode.RESYNC_REQUIRED, message, { after: after.toString(), oldestCursor: oldest.toString() });

/** The smallest `after` a resume is accepted from: below it, updates may have been pruned (or never ingested). */
export const oldestResumable = (position: FeedPosition): bigint => maxOf(position.userPrunedThrough, position.completeFrom);

/**
 * Checks that every update after `after` is still retained (ARCHITECTURE §6 "Gap-free realtime").
 *
 * Precise per user: only this user's pruned updates matter. `after` equal to the highest pruned
 * cursor is fine (the client saw that one; everything newer is retained). A cursor ahead of
 * everything the feed knows cannot come from this log (e.g. the database was reset): resync too.
 */
export function checkResume(after: bigint, position: FeedPosition): void {
  const oldest = oldestResumable(position);
  if (after < oldest) {
    throw resync(
      `Cursor ${after} is older than the retained window (oldest resumable cursor ${oldest}): refetch, then subscribe again`,
      after,
      oldest,
    );
  }
  if (after > position.head) {
    throw resync(`Cursor ${after} is ahead of the change log (head ${position.head}): refetch, then subscribe again`, after, oldest);
  }
}
