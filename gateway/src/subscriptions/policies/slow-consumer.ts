import type { Logger } from '@taskgraph/runtime';
import type { SubscriptionMetrics } from '../metrics.js';
import { SubscriptionCloseCode } from '../options.js';
import type { SubscriptionPolicy } from './policy.js';

export interface SlowConsumerOptions {
  /** How long a closed slow consumer may take to finish the close handshake before it is cut. */
  closeGraceMs: number;
  metrics: Pick<SubscriptionMetrics, 'slowConsumers'>;
  logger: Logger;
}

/**
 * Ends a connection one of whose subscription buffers overflowed (the client does not read):
 * every buffer of the connection is freed at once, the socket closes with 1013 (Try Again Later)
 * and the limit as reason, and is cut after `closeGraceMs` if the close handshake never completes.
 * Other clients are unaffected.
 */
export function slowConsumerPolicy(options: SlowConsumerOptions): SubscriptionPolicy {
  return {
    name: 'slow-consumer',
    onOverflow(connection, _stream, reason) {
      options.metrics.slowConsumers.inc();
      options.logger.warn({ userId: connection.userId, reason }, 'closing slow subscription consumer');
      // Free every buffer of the connection now; the close handshake may never complete.
      for (const stream of [...connection.streams.values()]) void stream.return();
      connection.socket.close(SubscriptionCloseCode.SlowConsumer, reason);
      setTimeout(() => connection.socket.terminate(), options.closeGraceMs).unref();
    },
  };
}
