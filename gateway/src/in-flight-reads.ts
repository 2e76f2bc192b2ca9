/** Users whose last write is remembered individually; older ones fall back to a shared floor. */
const MAX_TRACKED_WRITERS = 100_000;

/**
 * De-duplicates identical in-flight subgraph reads of ONE user: while a read with the same key is
 * in flight, a new one waits for its answer instead of sending another request (the gateway's
 * share of Hive Gateway's "identical requests" advantage).
 *
 * Two rules keep it invisible to clients:
 * - **Never across users.** The key always starts with the caller's user id (length-prefixed, so no
 *   two (user, key) pairs collide); what a subgraph returns depends on nothing else the gateway
 *   sends (the internal token names the user, the body names the operation and variables).
 * - **Read your writes.** A read started before one of the user's mutations started or finished
 *   may miss that mutation's effects, so no read begun after it may join it: every mutation fetch
 *   calls `noteWrite` before and after, and a read joins only an in-flight read that started after
 *   the user's last `noteWrite`. (Per gateway process: a write sent through another replica is not
 *   seen here — the same as for any concurrently started read.)
 *
 * Only reads (`query` operations) go through here; mutations and subscriptions never share.
 */
export class InFlightReads<T> {
  private sequence = 0;
  /** user → sequence number of their last write (insertion order = least recently written first). */
  private readonly lastWrite = new Map<string, number>();
  /** Last-write number assumed for users no longer tracked individually (conservative). */
  private forgottenWrites = 0;
  private readonly pending = new Map<string, { startedAt: number; answer: Promise<T> }>();
  /** Reads sent upstream and reads answered by joining one in flight. */
  readonly stats = { sent: 0, shared: 0 };

  /** A write by `userId` starts or ends: reads in flight now must not serve later requests of this user. */
  noteWrite(userId: string): void {
    const at = ++this.sequence;
    this.lastWrite.delete(userId);
    this.lastWrite.set(userId, at);
    if (this.lastWrite.size > MAX_TRACKED_WRITERS) {
      const [oldestUser, oldestAt] = this.lastWrite.entries().next().value as [string, number];
      this.lastWrite.delete(oldestUser);
      this.forgottenWrites = Math.max(this.forgottenWrites, oldestAt);
    }
  }

  /** `fetch()`'s answer, or the answer of an identical read of the same user already in flight. */
  read(userId: string, key: string, fetch: () => Promise<T>): Promise<T> {
    const fullKey = `${userId.length}:${userId}\u0000${key}`;
    const inFlight = this.pending.get(fullKey);
    if (inFlight && inFlight.startedAt > (this.lastWrite.get(userId) ?? this.forgottenWrites)) {
      this.stats.shared++;
      return inFlight.answer;
    }
    this.stats.sent++;
    const entry = { startedAt: ++this.sequence, answer: fetch() };
    this.pending.set(fullKey, entry);
    const done = () => {
      if (this.pending.get(fullKey) === entry) this.pending.delete(fullKey);
    };
    entry.answer.then(done, done);
    return entry.answer;
  }
}
