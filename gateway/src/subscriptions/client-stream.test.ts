import { eventually } from '@taskgraph/testing';
import { type SocketPair, socketPair } from '../fixtures/socket-pair.js';
import { ClientStream, SubscriptionTerminated } from './client-stream.js';
import { ConnectionState } from './connection-state.js';
import { SerializedResult } from './serialized-payload.js';
import type { WriteLimits } from './socket-writer.js';

let pair: SocketPair;
beforeEach(async () => {
  pair = await socketPair();
});
afterEach(() => pair.close());

/** A connection on a real socket pair and streams on it; `received` is what the client got, in order. */
function setup(limits: WriteLimits = { maxBufferedMessages: 3, maxBufferedBytes: 1_000_000 }) {
  const events: string[] = [];
  const received: { id: string; type: string; payload?: { data: { n: number } } }[] = [];
  pair.client.on('message', (data) => received.push(JSON.parse(String(data))));
  const connection = new ConnectionState('alice', pair.server, undefined, { raw: pair.serverRaw, limits });
  const open = (id: string) => {
    const stream = new ClientStream(id, connection, {
      onOverflow: (s, reason) => events.push(`overflow ${s.id}: ${reason}`),
      onDetach: (s) => events.push(`detach ${s.id}`),
      onDrain: (s) => events.push(`drain ${s.id}`),
    });
    connection.streams.set(id, stream);
    return stream;
  };
  return { connection, open, events, received };
}

const result = (n: number, padding = 0) =>
  new SerializedResult(JSON.stringify({ data: { n, ...(padding ? { padding: 'x'.repeat(padding) } : {}) } }));

describe('ClientStream', () => {
  it("writes each result to the socket at once, in order per stream, with the stream's id", async () => {
    const { open, received } = setup({ maxBufferedMessages: 100, maxBufferedBytes: 1_000_000 });
    const a = open('a');
    const b = open('b');
    for (let n = 1; n <= 20; n++) {
      const shared = result(n);
      a.push(shared);
      b.push(shared);
    }
    await eventually(() => received.length === 40, 5_000, '40 messages');
    for (const id of ['a', 'b']) {
      const mine = received.filter((m) => m.id === id);
      expect(mine.map((m) => m.type)).toEqual(Array(20).fill('next'));
      expect(mine.map((m) => m.payload?.data.n)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    }
  });

  it('waits for graphql-ws only to end: completes or fails after the results, and drops pushes once closed', async () => {
    const { open, events } = setup();
    const s = open('1');
    const pending = s.next();
    s.push(result(1));
    s.end([{ message: 'gone', extensions: { code: 'UNAVAILABLE' } }]);
    await expect(pending).rejects.toEqual(new SubscriptionTerminated([{ message: 'gone', extensions: { code: 'UNAVAILABLE' } }]));
    expect(await s.next()).toEqual({ value: undefined, done: true });
    s.push(result(2));
    expect(events).toEqual(['detach 1']);

    const completed = open('2');
    const waiting = completed.next();
    completed.end();
    expect(await waiting).toEqual({ value: undefined, done: true });

    const returned = open('3');
    const reading = returned.next();
    await returned.return();
    expect(await reading).toEqual({ value: undefined, done: true });
    expect(events).toEqual(['detach 1', 'detach 2', 'detach 3']);
  });

  it('is full at maxBufferedMessages unfinished writes and drains when the writes complete', async () => {
    const { open, events, connection } = setup({ maxBufferedMessages: 3, maxBufferedBytes: 1_000_000 });
    const s = open('1');
    for (let n = 1; n <= 3; n++) s.push(result(n));
    // The kernel took them, but their write callbacks run on a later tick.
    expect(s.hasRoom).toBe(false);
    expect(connection.pending.messages).toBe(3);
    await eventually(() => s.hasRoom, 2_000, 'room');
    expect(events).toEqual(['drain 1']);
  });

  it('is full at maxBufferedBytes unsent (the client stopped reading) and a full connection nobody reads is a slow consumer', async () => {
    const { open, events, connection } = setup({ maxBufferedMessages: 1_000, maxBufferedBytes: 256 * 1024, stallTimeoutMs: 300 });
    const a = open('a');
    const b = open('b');
    const pending = b.next();
    pair.clientRaw.pause();
    let pushed = 0;
    // Loopback buffers take a few MiB before the socket holds anything unsent.
    while (a.hasRoom && pushed < 2_000) {
      a.push(result(pushed++, 32 * 1024));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(a.hasRoom).toBe(false);
    expect(b.hasRoom).toBe(false);
    // At most one result beyond the bound.
    expect(connection.pending.bytes).toBeLessThan(256 * 1024 + 33 * 1024);
    await eventually(() => events.some((e) => e.startsWith('overflow')), 3_000, 'slow consumer');
    expect(events[0]).toBe('detach a');
    expect(events[1]).toMatch(/^overflow a: SLOW_CONSUMER: no result read for 300 ms with \d+ results \(\d+ bytes\) waiting$/);
    expect(a.closed).toBe(true);
    // The policy ends the others (slow-consumer.test.ts); this stream is untouched.
    expect(b.closed).toBe(false);
    b.end();
    expect(await pending).toEqual({ value: undefined, done: true });
  });

  it('never ends a full connection that is read, however slowly', async () => {
    const { open, events } = setup({ maxBufferedMessages: 1_000, maxBufferedBytes: 64 * 1024, stallTimeoutMs: 1_000 });
    const s = open('1');
    pair.clientRaw.pause();
    let pushed = 0;
    while (s.hasRoom && pushed < 2_000) {
      s.push(result(pushed++, 32 * 1024));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(s.hasRoom).toBe(false);
    // Read a little every 50 ms, far inside the 1 s stall bound (timers run late on a loaded machine).
    for (let i = 0; i < 20 && !events.includes('drain 1'); i++) {
      pair.clientRaw.resume();
      await new Promise((resolve) => setTimeout(resolve, 5));
      pair.clientRaw.pause();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    pair.clientRaw.resume();
    await eventually(() => events.includes('drain 1'), 5_000, 'drained');
    expect(events.filter((e) => e.startsWith('overflow'))).toEqual([]);
    expect(s.closed).toBe(false);
  });

  it('writes nothing once the WebSocket is closing', async () => {
    const { open, received } = setup();
    const s = open('1');
    s.push(result(1));
    pair.server.close(1000, 'bye');
    s.push(result(2));
    await new Promise((resolve) => pair.client.once('close', resolve));
    expect(received.map((m) => m.payload?.data.n)).toEqual([1]);
  });
});
