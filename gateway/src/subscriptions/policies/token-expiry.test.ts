import { type SocketPair, socketPair } from '../../fixtures/socket-pair.js';
import { ClientStream, SubscriptionTerminated } from '../client-stream.js';
import { ConnectionState } from '../connection-state.js';
import { TOKEN_EXPIRED, tokenExpiryPolicy } from './token-expiry.js';

const limits = { maxBufferedMessages: 10, maxBufferedBytes: 10_000 };
const noHooks = { onOverflow: () => {}, onDetach: () => {} };
const connectionOf = (p: SocketPair, expiresAt: number | undefined) =>
  new ConnectionState('alice', p.server, expiresAt, { raw: p.serverRaw, limits });
const payload = { query: 'subscription { x }' };
let pair: SocketPair;

beforeEach(async () => {
  pair = await socketPair();
});
afterEach(() => pair.close());

describe('tokenExpiryPolicy', () => {
  it('ends every subscription with UNAUTHENTICATED, refuses new ones, then closes 4403 once the errors are written', async () => {
    const policy = tokenExpiryPolicy({ flushMs: 5_000 });
    const connection = connectionOf(pair, Date.now() + 150);
    policy.onConnect?.(connection);
    const stream = new ClientStream('1', connection, noHooks);
    connection.streams.set('1', stream);
    expect(policy.onSubscribe?.(connection, '2', payload)).toBeUndefined();

    await new Promise((resolve) => setTimeout(resolve, 250));
    // The subscription ended with the expiry (graphql-ws sends it as its `error` message).
    const ended = await stream.next().then(
      () => 'resolved',
      (error: unknown) => error,
    );
    expect(ended).toBeInstanceOf(SubscriptionTerminated);
    expect((ended as SubscriptionTerminated).errors).toEqual([TOKEN_EXPIRED]);
    expect(TOKEN_EXPIRED).toEqual({ message: 'Token expired', extensions: { code: 'UNAUTHENTICATED' } });
    const refused = policy.onSubscribe?.(connection, '2', payload);
    expect(refused?.map((e) => [e.message, e.extensions.code])).toEqual([['Token expired', 'UNAUTHENTICATED']]);

    // graphql-ws wrote the error message: the last completion closes the socket (long before flushMs).
    connection.streams.delete('1');
    policy.onComplete?.(connection, '1');
    expect(await pair.clientClosed).toEqual({ code: 4403, reason: 'UNAUTHENTICATED: Token expired' });
    policy.onClose?.(connection);
  });

  it('closes at once when the connection has no subscription, and after flushMs when an error is never written', async () => {
    const policy = tokenExpiryPolicy({ flushMs: 100 });
    const idle = connectionOf(pair, Date.now() + 50);
    policy.onConnect?.(idle);
    expect(await pair.clientClosed).toEqual({ code: 4403, reason: 'UNAUTHENTICATED: Token expired' });
    policy.onClose?.(idle);

    const other = await socketPair();
    try {
      const busy = connectionOf(other, Date.now() + 50);
      policy.onConnect?.(busy);
      busy.streams.set('1', new ClientStream('1', busy, noHooks));
      const started = Date.now();
      expect(await other.clientClosed).toEqual({ code: 4403, reason: 'UNAUTHENTICATED: Token expired' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(100);
      policy.onClose?.(busy);
    } finally {
      await other.close();
    }
  });

  it('does nothing for tokens without exp, or once the connection closed', async () => {
    const policy = tokenExpiryPolicy({ flushMs: 10 });
    const forever = connectionOf(pair, undefined);
    policy.onConnect?.(forever);
    // Tokens expire in whole seconds: connections share an instant, and one leaving spares the others.
    const at = Date.now() + 30;
    const gone = connectionOf(pair, at);
    policy.onConnect?.(gone);
    const other = await socketPair();
    const sibling = connectionOf(other, at);
    policy.onConnect?.(sibling);
    policy.onClose?.(gone);
    expect(await other.clientClosed).toEqual({ code: 4403, reason: 'UNAUTHENTICATED: Token expired' });
    await other.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(pair.server.readyState).toBe(pair.server.OPEN);
    expect(policy.onSubscribe?.(forever, '1', payload)).toBeUndefined();
    policy.onClose?.(forever);
  });
});
