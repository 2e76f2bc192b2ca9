import { ClientStream, SubscriptionTerminated } from './client-stream.js';

function stream(limits = { maxBufferedMessages: 3, maxBufferedBytes: 1_000 }) {
  const events: string[] = [];
  const s = new ClientStream(limits, {
    onOverflow: (_s, reason) => events.push(`overflow: ${reason}`),
    onDetach: () => events.push('detach'),
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

  it('overflows past the message limit: buffer dropped, detached once, later pushes ignored', async () => {
    const { s, events } = stream();
    for (let i = 1; i <= 3; i++) s.push(result(i), 1);
    expect(events).toEqual([]);
    s.push(result(4), 1);
    expect(events).toEqual(['detach', 'overflow: Slow consumer: more than 3 messages or 1000 bytes unsent']);
    expect(s.buffered).toEqual({ messages: 0, bytes: 0 });
    s.push(result(5), 1);
    expect(await s.next()).toEqual({ value: undefined, done: true });
    await s.return();
    expect(events).toHaveLength(2);
  });

  it('overflows past the byte limit', () => {
    const { s, events } = stream({ maxBufferedMessages: 100, maxBufferedBytes: 100 });
    s.push(result(1), 60);
    s.push(result(2), 60);
    expect(events[1]).toMatch(/^overflow/);
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
