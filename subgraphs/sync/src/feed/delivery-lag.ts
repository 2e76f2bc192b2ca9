import type { Metrics } from '@taskgraph/runtime';
import type { TaskUpdate } from '../entities/task-update.entity.js';
import { LiveHub } from './live-hub.js';

/**
 * Sync's two stages of `delivery_lag_seconds` (see `DELIVERY_STAGES` in the runtime):
 * `consumer` (the event occurred → its row is stored, after commit) and `sync_push` (published
 * live → taken by a subscription's graphql-ws stream, i.e. the subscriber queue's wait). Replayed
 * rows were never published live here, so they are not counted as pushes.
 */
export class DeliveryClock {
  private readonly publishedAt = new WeakMap<TaskUpdate, bigint>();

  constructor(private readonly lag: Metrics['deliveryLag']) {}

  /** The update's row committed (consumer stage; `occurredAt` is set by the producing service). */
  stored(update: TaskUpdate): void {
    this.lag.observe({ stage: 'consumer' }, Math.max(0, Date.now() - update.occurredAt.getTime()) / 1000);
  }

  /** A hub that stamps every update it publishes live (embedded: on store; dapr: by the ordered release). */
  hub(): LiveHub<TaskUpdate> {
    const publishedAt = this.publishedAt;
    return new (class extends LiveHub<TaskUpdate> {
      override publish(userId: string, item: TaskUpdate): number {
        publishedAt.set(item, process.hrtime.bigint());
        return super.publish(userId, item);
      }
    })();
  }

  /** `stream`, observing `sync_push` for each live update it hands out. */
  track(stream: AsyncIterableIterator<TaskUpdate>): AsyncIterableIterator<TaskUpdate> {
    const observe = (result: IteratorResult<TaskUpdate>) => {
      const at = result.done ? undefined : this.publishedAt.get(result.value);
      if (at !== undefined) this.lag.observe({ stage: 'sync_push' }, Number(process.hrtime.bigint() - at) / 1e9);
      return result;
    };
    return {
      next: async () => observe(await stream.next()),
      return: async (value?: unknown) => (stream.return ? stream.return(value) : { value: undefined, done: true }),
      throw: async (error?: unknown) => (stream.throw ? stream.throw(error) : Promise.reject(error)),
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }
}
