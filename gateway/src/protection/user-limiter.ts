/** Per-user fairness limits (one set per gateway process, shared by HTTP and WebSocket). */
export interface FairnessLimits {
  /** Operations a user may start per second, sustained (token-bucket refill rate). */
  ratePerSecond: number;
  /** Operations a user may start at once after being idle (token-bucket capacity). */
  burst: number;
  /** Queries and mutations of one user executing at the same time (HTTP and WebSocket together). */
  maxInFlight: number;
  /** Active subscriptions of one user over all their WebSocket connections. */
  maxSubscriptions: number;
  /** Retry hint of a concurrency refusal (the gateway cannot know when a running operation ends). */
  concurrencyRetryAfterMs: number;
}

/** Why an operation was refused and when to retry; becomes a `RATE_LIMITED` error. */
export interface Refusal {
  limit: 'rate' | 'inFlight' | 'subscriptions';
  max: number;
  retryAfterMs: number;
}

interface UserState {
  tokens: number;
  /** `performance.now()` of the last refill. */
  refilledAt: number;
  inFlight: number;
  subscriptions: number;
}

/** A slot held by an admitted operation; `release` is idempotent. */
export interface Slot {
  release(): void;
}

/** Idle users are forgotten once this many users are tracked (their bucket is full again by then). */
const SWEEP_AT = 10_000;

/**
 * Token bucket + concurrency counters per user. Buckets refill lazily on use (no timers); entries of
 * users with nothing running and a full bucket are swept when the map grows, so memory follows the
 * number of active users.
 */
export class UserLimiter {
  private readonly users = new Map<string, UserState>();
  private sweepAt = SWEEP_AT;

  constructor(
    readonly limits: FairnessLimits,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes one token for an operation (HTTP request, WebSocket subscribe/query); undefined = admitted. */
  take(userId: string): Refusal | undefined {
    const state = this.state(userId);
    const { ratePerSecond, burst } = this.limits;
    const now = this.now();
    state.tokens = Math.min(burst, state.tokens + ((now - state.refilledAt) * ratePerSecond) / 1000);
    state.refilledAt = now;
    if (state.tokens >= 1) {
      state.tokens -= 1;
      return undefined;
    }
    return { limit: 'rate', max: ratePerSecond, retryAfterMs: Math.ceil(((1 - state.tokens) * 1000) / ratePerSecond) };
  }

  /** Admits one more in-flight query/mutation of the user, or refuses it. */
  acquire(userId: string): Slot | Refusal {
    return this.hold(userId, 'inFlight', this.limits.maxInFlight);
  }

  /** Admits one more active subscription of the user, or refuses it. */
  acquireSubscription(userId: string): Slot | Refusal {
    return this.hold(userId, 'subscriptions', this.limits.maxSubscriptions);
  }

  /** The user's active subscriptions now (no state is created for an unknown user). */
  activeSubscriptions(userId: string): number {
    return this.users.get(userId)?.subscriptions ?? 0;
  }

  /** Users tracked now (for tests and metrics). */
  get size(): number {
    return this.users.size;
  }

  private hold(userId: string, kind: 'inFlight' | 'subscriptions', max: number): Slot | Refusal {
    const state = this.state(userId);
    if (state[kind] >= max) return { limit: kind, max, retryAfterMs: this.limits.concurrencyRetryAfterMs };
    state[kind]++;
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        state[kind]--;
      },
    };
  }

  private state(userId: string): UserState {
    let state = this.users.get(userId);
    if (!state) {
      if (this.users.size >= this.sweepAt) this.sweep();
      state = { tokens: this.limits.burst, refilledAt: this.now(), inFlight: 0, subscriptions: 0 };
      this.users.set(userId, state);
    }
    return state;
  }

  private sweep(): void {
    const now = this.now();
    const { ratePerSecond, burst } = this.limits;
    for (const [userId, state] of this.users) {
      const full = state.tokens + ((now - state.refilledAt) * ratePerSecond) / 1000 >= burst;
      if (full && state.inFlight === 0 && state.subscriptions === 0) this.users.delete(userId);
    }
    // Many active users: sweep less often so the sweep stays amortised O(1) per new user.
    this.sweepAt = Math.max(SWEEP_AT, this.users.size * 2);
  }
}

export const isRefusal = (value: Slot | Refusal | undefined): value is Refusal => value !== undefined && 'limit' in value;
