import { isRefusal, type Slot, UserLimiter } from './user-limiter.js';

const limits = { ratePerSecond: 10, burst: 3, maxInFlight: 2, maxSubscriptions: 1, concurrencyRetryAfterMs: 250 };

describe('UserLimiter', () => {
  it('lets a burst through, then refuses with the time until the next token, per user', () => {
    let now = 0;
    const limiter = new UserLimiter(limits, () => now);
    expect([limiter.take('alice'), limiter.take('alice'), limiter.take('alice')]).toEqual([undefined, undefined, undefined]);
    expect(limiter.take('alice')).toEqual({ limit: 'rate', max: 10, retryAfterMs: 100 });
    expect(limiter.take('bob')).toBeUndefined();
    now = 50;
    expect(limiter.take('alice')).toEqual({ limit: 'rate', max: 10, retryAfterMs: 50 });
    now = 100;
    expect(limiter.take('alice')).toBeUndefined();
    now = 10_000; // refilled to the burst, not beyond
    expect([limiter.take('alice'), limiter.take('alice'), limiter.take('alice'), limiter.take('alice')].filter(Boolean)).toHaveLength(1);
  });

  it('caps operations in flight and subscriptions per user; release is idempotent', () => {
    const limiter = new UserLimiter(limits);
    const a = limiter.acquire('alice') as Slot;
    const b = limiter.acquire('alice') as Slot;
    expect(isRefusal(a) || isRefusal(b)).toBe(false);
    expect(limiter.acquire('alice')).toEqual({ limit: 'inFlight', max: 2, retryAfterMs: 250 });
    expect(isRefusal(limiter.acquire('bob'))).toBe(false);
    a.release();
    a.release();
    expect(isRefusal(limiter.acquire('alice'))).toBe(false);
    expect(limiter.acquire('alice')).toMatchObject({ limit: 'inFlight' });
    const sub = limiter.acquireSubscription('alice') as Slot;
    expect(limiter.acquireSubscription('alice')).toEqual({ limit: 'subscriptions', max: 1, retryAfterMs: 250 });
    sub.release();
    expect(isRefusal(limiter.acquireSubscription('alice'))).toBe(false);
  });

  it('forgets idle users when many are tracked, keeping those with work running', () => {
    let now = 0;
    const limiter = new UserLimiter(limits, () => now);
    const busy = limiter.acquire('busy') as Slot;
    for (let i = 0; i < 9_999; i++) limiter.take(`user-${i}`);
    now = 1_000; // every bucket is full again
    limiter.take('newcomer');
    expect(limiter.size).toBe(2);
    // busy's count survived the sweep: one more slot, then refused at 2.
    expect(isRefusal(limiter.acquire('busy'))).toBe(false);
    expect(limiter.acquire('busy')).toMatchObject({ limit: 'inFlight' });
    busy.release();
  });
});
