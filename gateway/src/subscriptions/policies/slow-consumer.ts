import type { Logger } from '@taskgraph/runtime';
import { slowConsumerError } from '../client-stream.js';
import type { ConnectionState } from '../connection-state.js';
import type { SubscriptionMetrics } from '../metrics.js';
import { SubscriptionCloseCode } from '../options.js';
import type { SubscriptionPolicy } from './policy.js';

export interface SlowConsumerOptions {
  /** How long a closed slow consumer may take to finish the close handshake before it is cut. */
  closeGraceMs: number;
  /** How long the `error` messages may take to be written before the socket closes anyway. */
  flushMs?: number;
  metrics: Pick<SubscriptionMetrics, 'slowConsumers'>;
  logger: Logger;
}

/**
 * Ends a connection one of whose subscriptions is a slow consumer (a full buffer nobody read for
 * `stallTimeoutMs`: the client stopped reading; see `ClientStream`). Every subscription of the
 * connection ends with a graphql-ws `error` `[{ extensions: { code: "SLOW_CONSUMER" } }]` and its
 * buffer is freed at once; once those are written (or after `flushMs`) the socket closes with 1013
 * (Try Again Later) and a reason starting with `SLOW_CONSUMER:`, and is cut after `closeGraceMs`
 * if the close handshake never completes.
 * Gateway memory for such a client is bounded (README "Keep-alive and memory"). Other clients
 * are unaffected.
 */
export function slowConsumerPolicy(options: SlowConsumerOptions): SubscriptionPolicy {
  const closing = new WeakMap<ConnectionState, { reason: string; timer: NodeJS.Timeout }>();

  const close = (connection: ConnectionState) => {
    const entry = closing.get(connection);
    if (!entry) return;
    closing.delete(connection);
    clearTimeout(entry.timer);
    connection.socket.close(SubscriptionCloseCode.SlowConsumer, entry.reason);
    setTimeout(() => connection.socket.terminate(), options.closeGraceMs).unref();
  };

  return {
    name: 'slow-consumer',
    onOverflow(connection, _stream, reason) {
      if (closing.has(connection)) return;
      options.metrics.slowConsumers.inc();
      options.logger.warn({ userId: connection.userId, reason }, 'closing slow subscription consumer');
      // Free every buffer of the connection now (the `error` messages are all that is left to
      // write), then close once graphql-ws wrote them, or after flushMs if the client never reads.
      const timer = setTimeout(() => close(connection), options.flushMs ?? 1_000);
      timer.unref();
      closing.set(connection, { reason, timer });
      for (const stream of [...connection.streams.values()]) stream.end([slowConsumerError(reason)]);
    },
    onComplete(connection) {
      if (connection.streams.size === 0) close(connection);
    },
    onClose(connection) {
      const entry = closing.get(connection);
      if (entry) clearTimeout(entry.timer);
      closing.delete(connection);
    },
  };
}
