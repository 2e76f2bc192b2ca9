/** `take()` result once the queue was closed (the consumer went away or the service is stopping). */
export const CLOSED: unique symbol = Symbol('closed');

/**
 * Bounded queue of one subscription's undelivered live events (never unbounded memory).
 *
 * - `replay` mode (while the subscription is still replaying from the table): on overflow the buffer
 *   is emptied and `lost` is set; the replay then re-reads the table, which holds every event the
 *   buffer had (events are published only after their row committed).
 * - `live` mode: on overflow the subscription fails with `overflowError()` (slow consumer).
 */
export class SubscriberQueue<T> {
  private items: T[] = [];
  private head = 0;
  private waiter: { resolve(item: T | typeof CLOSED): void; reject(error: Error): void } | undefined;
  private failure: Error | undefined;
  private closed = false;
  private mode: 'replay' | 'live';
  /** Items were discarded while replaying: the replay must read the table again. */
  lost = false;

  constructor(
    private readonly capacity: number,
    private readonly overflowError: () => Error,
    mode: 'replay' | 'live',
    private readonly onEnd: () => void = () => {},
  ) {
    this.mode = mode;
  }

  get size(): number {
    return this.items.length - this.head;
  }

  get ended(): boolean {
    return this.closed || this.failure !== undefined;
  }

  goLive(): void {
    this.mode = 'live';
  }

  push(item: T): void {
    if (this.ended) return;
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter.resolve(item);
      return;
    }
    if (this.size >= this.capacity) {
      if (this.mode === 'replay') {
        this.clear();
        this.lost = true;
        return;
      }
      this.fail(this.overflowError());
      return;
    }
    this.items.push(item);
  }

  /** Next item; waits for one. Rejects once the queue failed, resolves `CLOSED` once closed. */
  take(): Promise<T | typeof CLOSED> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.size > 0) {
      const item = this.items[this.head++] as T;
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      return Promise.resolve(item);
    }
    if (this.closed) return Promise.resolve(CLOSED);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }

  /** Ends the queue with an error: the pending and next `take()` reject with it. */
  fail(error: Error): void {
    if (this.ended) return;
    this.failure = error;
    this.clear();
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(error);
    this.onEnd();
  }

  /** Ends the queue normally: a pending `take()` resolves `CLOSED`. */
  close(): void {
    if (this.ended) return;
    this.closed = true;
    this.clear();
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.resolve(CLOSED);
    this.onEnd();
  }
}
