/**
 * Edge-triggered wake-up for one waiting loop. `clear()` before reading, `wait()` when the read
 * found nothing: a `notify()` that lands in between is remembered, so no wake-up is lost.
 */
export class WakeSignal {
  private pending = false;
  private waiter: (() => void) | undefined;

  notify(): void {
    this.pending = true;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  clear(): void {
    this.pending = false;
  }

  /**
   * Resolves on the next `notify()` (at once if one came since `clear()`), when `signal` aborts,
   * or after `timeoutMs` when given.
   */
  wait(signal: AbortSignal, timeoutMs?: number): Promise<void> {
    if (this.pending || signal.aborted) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => done(), timeoutMs);
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        if (this.waiter === done) this.waiter = undefined;
        this.pending = false;
        resolve();
      };
      this.waiter = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
