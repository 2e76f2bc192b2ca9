import { ClientStream, SubscriptionTerminated } from './client-stream.js';

function stream(
  limits: { maxBufferedMessages: number; maxBufferedBytes: number; stallTimeoutMs?: number } = {
    maxBufferedMessages: 3,
    maxBufferedBytes: 1_000,
  },
) {
  const events: string[] = [];
  const s = new ClientStream(limits, {
    onOverflow: (_s, reason) => events.push(`overflow: ${reason}`),
    onDetach: () => events.push('detach'),
    onDrain: () => events.push('drain'),
  });
  return { s, events };
}

const result = (n: number) => ({ data: { n } });

describe('ClientStream', () => {
  it('hands results to a waiting reader directly and queues the rest in order', async () => {
    const { s } = stream();
    const pending = s.next();
    s.push(result(1), 10);
    expect(await pending).toEqual({ value: result(1), done: false });
    s.push(result(2), 10);
    s.push(result(3), 10);
    expect(s.buffered).toEqual({ messages: 2, bytes: 20 });
    expect(await s.next()).toEqual({ value: result(2), done: false });
    expect(await s.next()).toEqual({ value: result(3), done: false });
    expect(s.buffered).toEqual({ messages: 0, bytes: 0 });
  });

  it('is full at the message limit; a push into a full stream ends it SLOW_CONSUMER, detached once', async () => {
    const { s, events } = stream();
    for (let i = 1; i <= 3; i++) s.push(result(i), 1);
    expect(s.hasRoom).toBe(false);
    expect(events).toEqual([]);
    s.push(result(4), 1);
    const reason = 'SLOW_CONSUMER: more than 3 messages or 1000 bytes unsent';
    expect(events).toEqual(['detach', `overflow: ${reason}`]);
    expect(s.buffered).toEqual({ messages: 0, bytes: 0 });
    s.push(result(5), 1);
    await expect(s.next()).rejects.toEqual(new SubscriptionTerminated([{ message: reason, extensions: { code: 'SLOW_CONSUMER' } }]));
    expect(await s.next()).toEqual({ value: undefined, done: true });
    await s.return();
    expect(events).toHaveLength(2);
  });

  it('is full at the byte limit (at most one result beyond it) and drains when a result is taken', async () => {
    const { s, events } = stream({ maxBufferedMessages: 100, maxBufferedBytes: 100 });
    s.push(result(1), 60);
    expect(s.hasRoom).toBe(true);
    s.push(result(2), 60);
    expect(s.hasRoom).toBe(false);
    expect(s.buffered).toEqual({ messages: 2, bytes: 120 });
    expect(await s.next()).toEqual({ value: result(1), done: false });
    expect(s.hasRoom).toBe(true);
    expect(events).toEqual(['drain']);
  });

  it('ends a full stream nobody reads after stallTimeoutMs, but not one that is read (however slowly)', async () => {
    const { s: stuck, events: stuckEvents } = stream({ maxBufferedMessages: 2, maxBufferedBytes: 1_000, stallTimeoutMs: 150 });
    stuck.push(result(1), 10);
    stuck.push(result(2), 10);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(stuckEvents).toEqual(['detach', 'overflow: SLOW_CONSUMER: no result read for 150 ms with 2 results (20 bytes) waiting']);
    await expect(stuck.next()).rejects.toBeInstanceOf(SubscriptionTerminated);

    // Read every 50 ms, far inside the 1 s stall bound (timers run late on a loaded machine).
    const { s: slow, events: slowEvents } = stream({ maxBufferedMessages: 2, maxBufferedBytes: 1_000, stallTimeoutMs: 1_000 });
    for (let i = 0; i < 6; i++) {
      while (slow.hasRoom) slow.push(result(i), 10);
      await new Promise((resolve) => setTimeout(resolve, 50));
      await slow.next();
    }
    expect(slowEvents.filter((e) => e.startsWith('overflow'))).toEqual([]);
    await slow.return();
  });

  it('fails after the queued results are taken, or at once when discarding them', async () => {
    const { s } = stream();
    s.push(result(1), 1);
    s.end([{ message: 'gone', extensions: { code: 'UNAVAILABLE' } }]);
    expect(await s.next()).toEqual({ value: result(1), done: false });
    await expect(s.next()).rejects.toEqual(new SubscriptionTerminated([{ message: 'gone', extensions: { code: 'UNAVAILABLE' } }]));
    expect(await s.next()).toEqual({ value: undefined, done: true });

    const { s: discarding } = stream();
    discarding.push(result(1), 1);
    discarding.end([{ message: 'Token expired' }], { discard: true });
    await expect(discarding.next()).rejects.toBeInstanceOf(SubscriptionTerminated);
  });

  it('completes a waiting reader when ended without errors, and ends on return()', async () => {
    const { s, events } = stream();
    const pending = s.next();
    s.end();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(events).toEqual(['detach']);

    const { s: returned, events: returnedEvents } = stream();
    const waiting = returned.next();
    await returned.return();
    expect(await waiting).toEqual({ value: undefined, done: true });
    expect(returnedEvents).toEqual(['detach']);
  });
});
