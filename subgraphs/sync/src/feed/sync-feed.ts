import { AppError, type Database, ErrorCode, type Metrics } from '@taskgraph/runtime';
import type { SyncSettings } from '../config.js';
import type { TaskUpdate } from '../entities/task-update.entity.js';
import { TaskUpdateRepository } from '../repositories/task-update.repository.js';
import type { CursorCodec } from './cursor-codec.js';
import { DeliveryClock } from './delivery-lag.js';
import { LiveHub } from './live-hub.js';
import { openLiveStream } from './live-stream.js';
import type { ReminderDue } from './reminder-due.js';
import { latestOfUser, oldestResumable } from './resume.js';
import { type TaskUpdateFilterInput, toMatch } from './task-update-filter.js';
import { openTaskUpdateStream } from './task-update-stream.js';

/** A well-formed cursor this caller was never given (another user's, altered, or from before a key change). */
const notRecognised = () =>
  new AppError(ErrorCode.RESYNC_REQUIRED, 'The cursor is not one of yours (or predates a key change): refetch, then subscribe again');

/** What `syncRetention` answers (opaque cursors, cursor-codec.ts). */
export interface RetentionInfo {
  oldestCursor: string;
  latestCursor: string;
  retainedSeconds: number;
}

/**
 * The subscription side of sync: the live hubs the event handlers publish into (after commit) and
 * the streams the `Subscription` resolvers open for one caller.
 */
export class SyncFeed {
  /** Delivery lag of sync's stages (`consumer`, `sync_push`). */
  readonly delivery: DeliveryClock;
  readonly taskUpdates: LiveHub<TaskUpdate>;
  readonly reminders = new LiveHub<ReminderDue>();

  /** Set in dapr mode: the cursor up to which live publishing has gone (ordered release). */
  horizon: (() => bigint) | undefined;

  constructor(
    private readonly db: Database,
    private readonly settings: SyncSettings,
    private readonly metrics: Metrics,
    /** Opaque per-user cursors: every position a caller sees or sends goes through it. */
    readonly cursors: CursorCodec,
  ) {
    this.delivery = new DeliveryClock(metrics.deliveryLag);
    this.taskUpdates = this.delivery.hub();
  }

  /**
   * The caller's task updates (replay after `after`, then live). `after` is one of the caller's own
   * opaque cursors. Rejects with RESYNC_REQUIRED (also for a cursor not issued to this caller) /
   * BAD_USER_INPUT.
   */
  async openTaskUpdates(userId: string, filter: TaskUpdateFilterInput | null | undefined, after: string | null | undefined) {
    const match = toMatch(filter);
    const position = after == null ? undefined : this.cursors.decode(userId, after);
    if (after != null && position === undefined) throw notRecognised();
    this.metrics.subscriptionsOpen.inc();
    let ended = false;
    const stream = await openTaskUpdateStream({
      hub: this.taskUpdates,
      repository: () => new TaskUpdateRepository(this.db.fork()),
      userId,
      match,
      after: position,
      encodeCursor: (value) => this.cursors.encode(userId, value),
      queueSize: this.settings.subscriberQueueSize,
      pageSize: this.settings.backfillPageSize,
      horizon: this.horizon,
      onEnd: () => {
        if (ended) return;
        ended = true;
        this.metrics.subscriptionsOpen.dec();
      },
    });
    return this.delivery.track(stream);
  }

  /** The caller's reminders as they fire (live only). */
  openReminders(userId: string): AsyncIterableIterator<ReminderDue> {
    this.metrics.subscriptionsOpen.inc();
    return openLiveStream(this.reminders, userId, this.settings.subscriberQueueSize, () => this.metrics.subscriptionsOpen.dec());
  }

  /**
   * Per user only (issue 14): the oldest resumable and the newest cursor of the caller's own feed,
   * encrypted for the caller. Neither moves when other users change things.
   */
  async retention(userId: string): Promise<RetentionInfo> {
    const position = await new TaskUpdateRepository(this.db.fork()).position(userId);
    return {
      oldestCursor: this.cursors.encode(userId, oldestResumable(position)),
      latestCursor: this.cursors.encode(userId, latestOfUser(position)),
      retainedSeconds: this.settings.retentionSeconds,
    };
  }
}
