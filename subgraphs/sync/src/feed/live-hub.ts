/** Receives one live item; must not block (it only enqueues). */
export type LiveListener<T> = (item: T) => void;

/**
 * In-process fan-out of live events to the subscriptions of one user. Publishing is O(listeners
 * of that user), never O(all subscriptions): events are only ever delivered to their owner.
 */
export class LiveHub<T> {
  private readonly byUser = new Map<string, Set<LiveListener<T>>>();
  private listeners = 0;

  /** Registers `listener` for `userId`'s events; returns the function that unregisters it (idempotent). */
  listen(userId: string, listener: LiveListener<T>): () => void {
    let set = this.byUser.get(userId);
    if (!set) {
      set = new Set();
      this.byUser.set(userId, set);
    }
    set.add(listener);
    this.listeners++;
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      this.listeners--;
      const current = this.byUser.get(userId);
      current?.delete(listener);
      if (current?.size === 0) this.byUser.delete(userId);
    };
  }

  /** Hands `item` to every listener of `userId`; returns how many there were. */
  publish(userId: string, item: T): number {
    const set = this.byUser.get(userId);
    if (!set) return 0;
    // Copy: a listener may unregister itself (overflow) while we iterate.
    for (const listener of [...set]) listener(item);
    return set.size;
  }

  /** Listeners registered now, all users. */
  get size(): number {
    return this.listeners;
  }
}
