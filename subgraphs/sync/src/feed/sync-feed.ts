import type { Database, Metrics } from '@taskgraph/runtime';
import type { SyncSettings } from '../config.js';
import type { TaskUpdate } from '../entities/task-update.entity.js';
import { TaskUpdateRepository } from '../repositories/task-update.repository.js';
import { DeliveryClock } from './delivery-lag.js';
import { LiveHub } from './live-hub.js';
import { openLiveStream } from './live-stream.js';
import type { ReminderDue } from './reminder-due.js';
import { oldestResumable } from './resume.js';
import { type TaskUpdateFilterInput, toMatch } from './task-update-filter.js';
import { openTaskUpdateStream } from './task-update-stream.js';

/** What `syncRetention` answers. */
export interface RetentionInfo {
  oldestCursor: bigint;
  latestCursor: bigint;
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
  ) {
    this.delivery = new DeliveryClock(metrics.deliveryLag);
    this.taskUpdates = this.delivery.hub();
  }

  /** The caller's task updates (replay after `after`, then live). Rejects with RESYNC_REQUIRED / BAD_USER_INPUT. */
  async openTaskUpdates(userId: string, filter: TaskUpdateFilterInput | null | undefined, after: bigint | null | undefined) {
    const match = toMatch(filter);
    this.metrics.subscriptionsOpen.inc();
    let ended = false;
    const stream = await openTaskUpdateStream({
      hub: this.taskUpdates,
      repository: () => new TaskUpdateRepository(this.db.fork()),
      userId,
      match,
      after: after ?? undefined,
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

  async retention(userId: string): Promise<RetentionInfo> {
    const position = await new TaskUpdateRepository(this.db.fork()).position(userId);
    return { oldestCursor: oldestResumable(position), latestCursor: position.head, retainedSeconds: this.settings.retentionSeconds };
  }
}
