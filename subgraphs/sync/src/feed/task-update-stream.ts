import { AppError, ErrorCode } from '@taskgraph/runtime';
import type { TaskUpdate } from '../entities/task-update.entity.js';
import { matches, type TaskUpdateMatch, type TaskUpdateRepository } from '../repositories/task-update.repository.js';
import type { LiveHub } from './live-hub.js';
import { checkResume, type EncodeCursor } from './resume.js';
import { CLOSED, SubscriberQueue } from './subscriber-queue.js';

export interface TaskUpdateStreamOptions {
  hub: LiveHub<TaskUpdate>;
  /** A repository on a fresh EntityManager (one per query). */
  repository(): TaskUpdateRepository;
  userId: string;
  match: TaskUpdateMatch;
  /** Resume point; undefined → live from now on. */
  after: bigint | undefined;
  queueSize: number;
  pageSize: number;
  /**
   * Cursor up to which every update has been published live (dapr: the ordered release), or
   * undefined when publishing already follows the log order (embedded). Replays stop there.
   */
  horizon?: () => bigint | undefined;
  /** Called once when the stream ends, however it ends. */
  onEnd(): void;
  /** How positions appear in errors (the caller's opaque cursors); default `String`. */
  encodeCursor?: EncodeCursor;
}

const prunedDuringReplay = (pruned: bigint, encode: EncodeCursor) =>
  new AppError(ErrorCode.RESYNC_REQUIRED, 'Updates after the cursor were pruned while replaying: refetch, then subscribe again', {
    oldestCursor: encode(pruned),
  });

const slowConsumer = (queueSize: number) =>
  new AppError(
    ErrorCode.UNAVAILABLE,
    `Subscriber fell behind by more than ${queueSize} updates and was dropped: subscribe again with after: <last cursor received>`,
    { reason: 'SLOW_CONSUMER' },
  );

/**
 * Opens a gap-free `taskUpdates` stream (ARCHITECTURE §6):
 *
 * 1. listen live FIRST (into a bounded buffer), so nothing published from now on can be missed;
 * 2. check the resume point against retention (RESYNC_REQUIRED);
 * 3. replay the table page by page (cursor > after, caller's rows, filter, cursor order);
 * 4. drain the buffer skipping cursors ≤ the last emitted, then stay live.
 *
 * The seam is safe because a live event is published only after its row committed, and the
 * table is filled in cursor order: whatever the replay did not read is still to come live. If
 * the buffer overflows while replaying, it is dropped and the table is read again (it holds
 * everything the buffer held). Throws (RESYNC_REQUIRED) before returning when the cursor is too old.
 */
export async function openTaskUpdateStream(options: TaskUpdateStreamOptions): Promise<AsyncIterableIterator<TaskUpdate>> {
  let unlisten = () => {};
  const queue = new SubscriberQueue<TaskUpdate>(
    options.queueSize,
    () => slowConsumer(options.queueSize),
    options.after === undefined ? 'live' : 'replay',
    () => {
      unlisten();
      options.onEnd();
    },
  );
  unlisten = options.hub.listen(options.userId, (update) => {
    if (matches(options.match, update)) queue.push(update);
  });
  let start: bigint;
  try {
    const position = await options.repository().position(options.userId);
    if (options.after === undefined) {
      start = options.horizon?.() ?? position.head;
    } else {
      checkResume(options.after, position, options.encodeCursor);
      start = options.after;
    }
  } catch (error) {
    queue.close();
    throw error;
  }
  return new TaskUpdateStream(options, queue, start);
}

class TaskUpdateStream implements AsyncIterableIterator<TaskUpdate> {
  private page: TaskUpdate[] = [];
  private index = 0;
  private exhausted: boolean;
  private replaying: boolean;

  constructor(
    private readonly options: TaskUpdateStreamOptions,
    private readonly queue: SubscriberQueue<TaskUpdate>,
    /** Cursor of the last update emitted (or the resume point). */
    private last: bigint,
  ) {
    this.replaying = options.after !== undefined;
    this.exhausted = false;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<TaskUpdate> {
    return this;
  }

  async next(): Promise<IteratorResult<TaskUpdate>> {
    try {
      while (this.replaying) {
        if (this.queue.ended) return this.done();
        const row = this.page[this.index];
        if (row) {
          this.index++;
          return this.emit(row);
        }
        if (this.exhausted && !this.queue.lost) {
          // Same tick as the check: nothing can slip between "table read up to here" and "live".
          this.replaying = false;
          this.queue.goLive();
          break;
        }
        if (this.queue.lost) {
          this.queue.lost = false;
          this.queue.clear();
        }
        const horizon = this.options.horizon?.(); // read right before the query: above it, updates come live
        const repository = this.options.repository();
        const from = this.last;
        this.page = await repository.page(this.options.userId, from, this.options.match, this.options.pageSize, horizon);
        // The pruner may have deleted rows after `from` since the resume check: then this page could
        // skip some silently. It raises the user's watermark in the same transaction, so compare.
        const pruned = await repository.prunedThrough(this.options.userId);
        if (pruned > from) throw prunedDuringReplay(pruned, this.options.encodeCursor ?? String);
        this.index = 0;
        this.exhausted = this.page.length < this.options.pageSize;
      }
      for (;;) {
        const item = await this.queue.take();
        if (item === CLOSED) return this.done();
        // Already replayed (or before the live start): the seam's duplicates end here.
        if (BigInt(item.cursor) <= this.last) continue;
        return this.emit(item);
      }
    } catch (error) {
      this.queue.fail(error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
  }

  /** Called by graphql-ws when the client completes or disconnects: releases the listener at once. */
  async return(): Promise<IteratorResult<TaskUpdate>> {
    return this.done();
  }

  async throw(error?: unknown): Promise<IteratorResult<TaskUpdate>> {
    this.queue.close();
    throw error;
  }

  private emit(update: TaskUpdate): IteratorResult<TaskUpdate> {
    this.last = BigInt(update.cursor);
    return { value: update, done: false };
  }

  private done(): IteratorResult<TaskUpdate> {
    this.queue.close();
    this.page = [];
    return { value: undefined, done: true };
  }
}
