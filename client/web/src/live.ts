import {
  SyncRetentionDocument,
  type TaskgraphClient,
  type TaskgraphError,
  TaskUpdatesDocument,
  type TaskUpdatesSubscription,
} from '@taskgraph/client';

export type TaskUpdate = TaskUpdatesSubscription['taskUpdates'];

export interface LiveFeedHandlers {
  /** Loads the page's data; called after the feed's start position is fixed, so nothing falls in between. */
  load(): Promise<void>;
  update(update: TaskUpdate): void;
  /** The feed ended for good (no polling fallback: the page just says it is not live). */
  failed(error: TaskgraphError): void;
}

/**
 * The caller's change feed (`taskUpdates` through the gateway's federated subscriptions), gap-free
 * (ARCHITECTURE §6): read `syncRetention.latestCursor`, then load the data, then subscribe `after` that
 * cursor, so a change made while the data loads is replayed, not lost. The client resumes after its
 * last cursor when the socket drops; RESYNC_REQUIRED (the cursor fell out of retention) starts over.
 */
export function startLiveFeed(client: TaskgraphClient, handlers: LiveFeedHandlers): { stop(): void } {
  let stopped = false;
  let active: { unsubscribe(): void } | undefined;

  async function start() {
    let after: string | null = null;
    try {
      after = (await client.query(SyncRetentionDocument)).syncRetention.latestCursor ?? null;
    } catch {
      // No sync in this API: load anyway; the subscription below reports why it cannot be live.
    }
    await handlers.load();
    if (stopped) return;
    active = client.subscribe(TaskUpdatesDocument, {
      variables: { after },
      next: (data) => handlers.update(data.taskUpdates),
      error: (error) => {
        if (stopped) return;
        if (error.code === 'RESYNC_REQUIRED') void start();
        else handlers.failed(error);
      },
    });
  }

  void start();
  return {
    stop() {
      stopped = true;
      active?.unsubscribe();
    },
  };
}
