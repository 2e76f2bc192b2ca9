import { AppError, ErrorCode } from '@taskgraph/runtime';
import { type FeedPosition, maxOf } from '../repositories/task-update.repository.js';

/** How a log position is shown to the caller: an opaque per-user cursor (cursor-codec.ts); tests use `String`. */
export type EncodeCursor = (position: bigint) => string;

// Messages name no position: a number here would tell the caller how busy the whole log is.
const resync = (message: string, oldest: bigint, encode: EncodeCursor) =>
  new AppError(ErrorCode.RESYNC_REQUIRED, message, { oldestCursor: encode(oldest) });

/** The smallest `after` a resume is accepted from: below it, updates may have been pruned (or never ingested). */
export const oldestResumable = (position: FeedPosition): bigint => maxOf(position.userPrunedThrough, position.completeFrom);

/**
 * Checks that every update after `after` is still retained (ARCHITECTURE §6 "Gap-free realtime").
 *
 * Precise per user: only this user's pruned updates matter. `after` equal to the highest pruned
 * cursor is fine (the client saw that one; everything newer is retained). A cursor ahead of
 * everything the feed knows cannot come from this log (e.g. the database was reset): resync too.
 */
export function checkResume(after: bigint, position: FeedPosition, encode: EncodeCursor = String): void {
  const oldest = oldestResumable(position);
  if (after < oldest) {
    throw resync(
      'The cursor is older than the retained window (see extensions.oldestCursor): refetch, then subscribe again',
      oldest,
      encode,
    );
  }
  if (after > position.head) {
    throw resync('The cursor is ahead of the change log (the feed was reset): refetch, then subscribe again', oldest, encode);
  }
}

/** The newest position of `userId`'s own feed: what `syncRetention.latestCursor` answers (nothing global). */
export const latestOfUser = (position: FeedPosition): bigint => maxOf(position.userNewest, oldestResumable(position));
