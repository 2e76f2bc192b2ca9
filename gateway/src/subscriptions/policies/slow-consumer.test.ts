import { createLogger, createMetrics } from '@taskgraph/runtime';
import { eventually } from '@taskgraph/testing';
import { type SocketPair, socketPair } from '../../fixtures/socket-pair.js';
import { ClientStream, SubscriptionTerminated } from '../client-stream.js';
import { ConnectionState } from '../connection-state.js';
import { createSubscriptionMetrics } from '../metrics.js';
import { SerializedResult } from '../serialized-payload.js';
import { slowConsumerPolicy } from './slow-consumer.js';

const limits = { maxBufferedMessages: 1_000, maxBufferedBytes: 64 * 1024, stallTimeoutMs: 200 };
let pair: SocketPair;

beforeEach(async () => {
  pair = await socketPair();
});
afterEach(() => pair.close());

function setup(closeGraceMs: number) {
  const metrics = createSubscriptionMetrics(createMetrics('gateway'));
  const policy = slowConsumerPolicy({ closeGraceMs, flushMs: 100, metrics, logger: createLogger('test', 'silent') });
  const connection = new ConnectionState('alice', pair.server, undefined, { raw: pair.serverRaw, limits });
  const streams = ['1', '2'].map((id) => {
    const stream = new ClientStream(id, connection, {
      onOverflow: (s, reason) => policy.onOverflow?.(connection, s, reason),
      onDetach: () => {},
    });
    connection.streams.set(id, stream);
    return stream;
  });
  return { metrics, streams, policy, connection };
}

/** Writes results until the connection is full (the client stopped reading), as a pipeline would. */
async function fill(stream: ClientStream): Promise<void> {
  for (let i = 0; stream.hasRoom && i < 2_000; i++) {
    stream.push(new SerializedResult(JSON.stringify({ data: { n: i, padding: 'x'.repeat(32 * 1024) } })));
    await new Promise((resolve) => setImmediate(resolve));
  }
  expect(stream.hasRoom).toBe(false);
}

describe('slowConsumerPolicy', () => {
  it('ends every subscription of a stalled connection (SLOW_CONSUMER) and closes it 1013 with the reason', async () => {
    const { metrics, streams, policy, connection } = setup(10_000);
    const [overflowing, other] = streams as [ClientStream, ClientStream];
    const otherEnd = other.next();
    pair.clientRaw.pause();
    await fill(overflowing);
    // Nothing read for stallTimeoutMs: the write path reports the stall.
    await eventually(() => overflowing.closed, 3_000, 'stall');
    expect(other.closed).toBe(true);
    const reason = expect.stringMatching(/^SLOW_CONSUMER: no result read for 200 ms with \d+ results \(\d+ bytes\) waiting$/);
    // Every subscription of the connection ends with the coded error (graphql-ws `error` message).
    const ended = await otherEnd.catch((error: unknown) => error);
    expect(ended).toBeInstanceOf(SubscriptionTerminated);
    expect((ended as SubscriptionTerminated).errors).toEqual([{ message: reason, extensions: { code: 'SLOW_CONSUMER' } }]);
    expect((await metrics.slowConsumers.get()).values[0]?.value).toBe(1);
    // graphql-ws wrote both error messages: the socket closes at once (not after flushMs).
    for (const id of ['1', '2']) {
      connection.streams.delete(id);
      policy.onComplete?.(connection, id);
    }
    expect(connection.socket.readyState).toBe(connection.socket.CLOSING);
    // Reading again, the client gets what the socket held, then the close.
    pair.clientRaw.resume();
    expect(await pair.clientClosed).toEqual({ code: 1013, reason });
  });

  it('cuts a client that never completes the close handshake after closeGraceMs', async () => {
    const { streams } = setup(200);
    // The peer stops reading: it never sees the close frame, so it never answers it.
    pair.clientRaw.pause();
    await fill(streams[0]!);
    const started = Date.now();
    await pair.serverClosed;
    // stallTimeoutMs (200) + flushMs (100: the error messages are never written) + closeGraceMs (200).
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
  });
});
