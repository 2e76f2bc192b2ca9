import { ErrorCode } from '@taskgraph/runtime';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { ConnectionState } from '../connection-state.js';
import { closeReason, SubscriptionCloseCode } from '../options.js';
import type { SubscriptionPolicy } from './policy.js';

/** Largest delay `setTimeout` accepts (~24.8 days); longer expiries re-arm. */
const MAX_TIMER_MS = 2_147_483_647;

export const TOKEN_EXPIRED: GraphQLFormattedError = { message: 'Token expired', extensions: { code: ErrorCode.UNAUTHENTICATED } };

export interface TokenExpiryOptions {
  /** How long the `error` messages of expired subscriptions may take to flush before the socket closes. */
  flushMs: number;
}

interface Watch {
  expired: boolean;
  timer: NodeJS.Timeout | undefined;
  closeTimer: NodeJS.Timeout | undefined;
}

/**
 * Ends a connection when its JWT expires. Every active subscription gets a graphql-ws `error`
 * message `[{ message: "Token expired", extensions: { code: "UNAUTHENTICATED" } }]` (undelivered
 * results are dropped), then the socket closes with 4403 "UNAUTHENTICATED: Token expired" so the client reconnects
 * with a fresh token in `connection_init` and resubscribes with its last cursor. Subscribing on an
 * expired connection is refused with the same error.
 */
export function tokenExpiryPolicy(options: TokenExpiryOptions = { flushMs: 2_000 }): SubscriptionPolicy {
  const watches = new WeakMap<ConnectionState, Watch>();

  const closeExpired = (connection: ConnectionState, watch: Watch) => {
    clearTimeout(watch.closeTimer);
    connection.socket.close(SubscriptionCloseCode.Forbidden, closeReason(ErrorCode.UNAUTHENTICATED, 'Token expired'));
  };

  const expire = (connection: ConnectionState, watch: Watch) => {
    watch.expired = true;
    if (connection.streams.size === 0) {
      closeExpired(connection, watch);
      return;
    }
    for (const stream of connection.streams.values()) stream.end([TOKEN_EXPIRED], { discard: true });
    watch.closeTimer = setTimeout(() => closeExpired(connection, watch), options.flushMs);
  };

  const arm = (connection: ConnectionState, watch: Watch, expiresAt: number) => {
    const delay = expiresAt - Date.now();
    watch.timer = setTimeout(
      () => (Date.now() >= expiresAt ? expire(connection, watch) : arm(connection, watch, expiresAt)),
      Math.min(Math.max(delay, 0), MAX_TIMER_MS),
    );
  };

  return {
    name: 'token-expiry',
    onConnect(connection) {
      const watch: Watch = { expired: false, timer: undefined, closeTimer: undefined };
      watches.set(connection, watch);
      if (connection.expiresAt !== undefined) arm(connection, watch, connection.expiresAt);
      return undefined;
    },
    onSubscribe(connection) {
      if (!watches.get(connection)?.expired) return undefined;
      return [new GraphQLError(TOKEN_EXPIRED.message, { extensions: { ...TOKEN_EXPIRED.extensions } })];
    },
    onComplete(connection) {
      // The `error` messages are written: close as soon as the last one is out.
      const watch = watches.get(connection);
      if (watch?.expired && connection.streams.size === 0) closeExpired(connection, watch);
    },
    onClose(connection) {
      const watch = watches.get(connection);
      if (!watch) return;
      clearTimeout(watch.timer);
      clearTimeout(watch.closeTimer);
      watches.delete(connection);
    },
  };
}
