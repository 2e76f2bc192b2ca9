import { AppError, ErrorCode } from '@taskgraph/runtime';
import type { LiveHub } from './live-hub.js';
import { CLOSED, SubscriberQueue } from './subscriber-queue.js';

/**
 * A live-only stream of one user's events (no replay), with the same bounded queue as
 * `taskUpdates`: a consumer that falls `queueSize` events behind is dropped with UNAVAILABLE.
 */
export function openLiveStream<T>(hub: LiveHub<T>, userId: string, queueSize: number, onEnd: () => void): AsyncIterableIterator<T> {
  let unlisten = () => {};
  const queue = new SubscriberQueue<T>(
    queueSize,
    () =>
      new AppError(ErrorCode.UNAVAILABLE, `Subscriber fell behind by more than ${queueSize} events and was dropped`, {
        reason: 'SLOW_CONSUMER',
      }),
    'live',
    () => {
      unlisten();
      onEnd();
    },
  );
  unlisten = hub.listen(userId, (item) => queue.push(item));
  const done = (): IteratorResult<T> => {
    queue.close();
    return { value: undefined, done: true };
  };
  const iterator: AsyncIterableIterator<T> = {
    [Symbol.asyncIterator]: () => iterator,
    async next() {
      const item = await queue.take();
      return item === CLOSED ? done() : { value: item, done: false };
    },
    async return() {
      return done();
    },
    async throw(error?: unknown) {
      queue.close();
      throw error;
    },
  };
  return iterator;
}
