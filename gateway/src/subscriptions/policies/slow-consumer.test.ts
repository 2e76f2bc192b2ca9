import { createLogger, createMetrics } from '@taskgraph/runtime';
import { type SocketPair, socketPair } from '../../fixtures/socket-pair.js';
import { ClientStream, SubscriptionTerminated } from '../client-stream.js';
import { ConnectionState } from '../connection-state.js';
import { createSubscriptionMetrics } from '../metrics.js';
import { slowConsumerPolicy } from './slow-consumer.js';

const limits = { maxBufferedMessages: 2, maxBufferedBytes: 10_000 };
let pair: SocketPair;

beforeEach(async () => {
  pair = await socketPair();
});
afterEach(() => pair.close());

function setup(closeGraceMs: number) {
  const metrics = createSubscriptionMetrics(createMetrics('gateway'));
  const policy = slowConsumerPolicy({ closeGraceMs, flushMs: 100, metrics, logger: createLogger('test', 'silent') });
  const connection = new ConnectionState('alice', pair.server, undefined);
  const streams = ['1', '2'].map((id) => {
    const stream = new ClientStream(limits, { onOverflow: (s, reason) => policy.onOverflow?.(connection, s, reason), onDetach: () => {} });
    connection.streams.set(id, stream);
    return stream;
  });
  return { metrics, streams, policy, connection };
}

describe('slowConsumerPolicy', () => {
  it('frees every buffer of the connection and closes it 1013 with the limit as reason', async () => {
    const { metrics, streams, policy, connection } = setup(10_000);
    const [overflowing, other] = streams as [ClientStream, ClientStream];
    other.push({ data: { n: 0 } }, 10);
    for (let i = 0; i < 3; i++) overflowing.push({ data: { n: i } }, 10);
    expect(overflowing.closed).toBe(true);
    expect(other.closed).toBe(true);
    expect(other.buffered).toEqual({ messages: 0, bytes: 0 });
    const reason = 'SLOW_CONSUMER: more than 2 messages or 10000 bytes unsent';
    // Every subscription of the connection ends with the coded error (graphql-ws `error` message).
    await expect(other.next()).rejects.toEqual(new SubscriptionTerminated([{ message: reason, extensions: { code: 'SLOW_CONSUMER' } }]));
    expect((await metrics.slowConsumers.get()).values[0]?.value).toBe(1);
    // graphql-ws wrote both error messages: the socket closes at once (not after flushMs).
    const started = Date.now();
    for (const id of ['1', '2']) {
      connection.streams.delete(id);
      policy.onComplete?.(connection, id);
    }
    expect(await pair.clientClosed).toEqual({ code: 1013, reason });
    expect(Date.now() - started).toBeLessThan(100);
  });

  it('cuts a client that never completes the close handshake after closeGraceMs', async () => {
    const { streams } = setup(200);
    // The peer stops reading: it never sees the close frame, so it never answers it.
    pair.client.pause();
    const started = Date.now();
    for (let i = 0; i < 3; i++) streams[0]!.push({ data: { n: i } }, 10);
    await pair.serverClosed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
  });
});
