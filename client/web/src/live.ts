import { type TaskgraphClient, type TaskgraphError, TaskUpdatesDocument, type TaskUpdatesSubscription } from '@taskgraph/client';

export type TaskUpdate = TaskUpdatesSubscription['taskUpdates'];

export interface LiveFeedHandlers {
  update(update: TaskUpdate): void;
  /** The feed could not resume (cursor older than retention): reload everything, the feed restarts live. */
  resync(): void;
  /** The feed ended for good (no polling fallback: the page just says it is not live). */
  failed(error: TaskgraphError): void;
}

/**
 * The caller's change feed (`taskUpdates` through the gateway's federated subscriptions). The
 * client resumes after the last cursor on its own when the socket drops; RESYNC_REQUIRED restarts
 * the feed from now after the page reloads its data.
 */
export function startLiveFeed(client: TaskgraphClient, handlers: LiveFeedHandlers): { stop(): void } {
  let active = client.subscribe(TaskUpdatesDocument, { next: onNext, error: onError });
  let stopped = false;

  function onNext(data: TaskUpdatesSubscription) {
    handlers.update(data.taskUpdates);
  }
  function onError(error: TaskgraphError) {
    if (stopped) return;
    if (error.code === 'RESYNC_REQUIRED') {
      handlers.resync();
      active = client.subscribe(TaskUpdatesDocument, { next: onNext, error: onError });
      return;
    }
    handlers.failed(error);
  }
  return {
    stop() {
      stopped = true;
      active.unsubscribe();
    },
  };
}
