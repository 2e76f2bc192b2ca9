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

/**
 * Connections by the instant their token expires (JWT `exp` is in whole seconds, so connections
 * share instants), with one timer for the earliest: a connection costs a set entry, not a timer
 * and its closures.
 */
class ExpirySchedule {
  private readonly due = new Map<number, Set<ConnectionState>>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(private readonly expire: (connection: ConnectionState) => void) {}

  add(connection: ConnectionState, at: number): void {
    let set = this.due.get(at);
    if (!set) {
      set = new Set();
      this.due.set(at, set);
    }
    set.add(connection);
    if (at < this.timerAt) this.arm();
  }

  delete(connection: ConnectionState, at: number): void {
    const set = this.due.get(at);
    if (!set?.delete(connection) || set.size > 0) return;
    this.due.delete(at);
    if (this.due.size === 0) this.stop();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  private arm(): void {
    this.stop();
    let next = Number.POSITIVE_INFINITY;
    for (const at of this.due.keys()) if (at < next) next = at;
    if (next === Number.POSITIVE_INFINITY) return;
    this.timerAt = next;
    this.timer = setTimeout(() => this.fire(), Math.min(Math.max(next - Date.now(), 0), MAX_TIMER_MS));
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    const expired: ConnectionState[] = [];
    for (const [at, set] of this.due) {
      if (at > now) continue;
      this.due.delete(at);
      expired.push(...set);
    }
    // Re-armed for the next instant (or again for a far one that setTimeout could not reach at once).
    this.arm();
    for (const connection of expired) this.expire(connection);
  }
}

/**
 * Ends a connection when its JWT expires. Every active subscription gets a graphql-ws `error`
 * message `[{ message: "Token expired", extensions: { code: "UNAUTHENTICATED" } }]` (results the
 * gateway still holds for it are dropped; those already written to the socket arrive first), then
 * the socket closes with 4403 "UNAUTHENTICATED: Token expired" so the client reconnects with a
 * fresh token in `connection_init` and resubscribes with its last cursor. Subscribing on an
 * expired connection is refused with the same error.
 */
export function tokenExpiryPolicy(options: TokenExpiryOptions = { flushMs: 2_000 }): SubscriptionPolicy {
  /** Expired connections waiting for their `error` messages to be written (at most `flushMs`). */
  const closing = new Map<ConnectionState, NodeJS.Timeout>();

  const closeExpired = (connection: ConnectionState) => {
    clearTimeout(closing.get(connection));
    closing.delete(connection);
    connection.socket.close(SubscriptionCloseCode.Forbidden, closeReason(ErrorCode.UNAUTHENTICATED, 'Token expired'));
  };

  const schedule = new ExpirySchedule((connection) => {
    if (connection.streams.size === 0) {
      closeExpired(connection);
      return;
    }
    closing.set(
      connection,
      setTimeout(() => closeExpired(connection), options.flushMs),
    );
    for (const stream of [...connection.streams.values()]) stream.end([TOKEN_EXPIRED]);
  });

  const expired = (connection: ConnectionState) => connection.expiresAt !== undefined && Date.now() >= connection.expiresAt;

  return {
    name: 'token-expiry',
    onConnect(connection) {
      if (connection.expiresAt !== undefined) schedule.add(connection, connection.expiresAt);
      return undefined;
    },
    onSubscribe(connection) {
      if (!expired(connection)) return undefined;
      return [new GraphQLError(TOKEN_EXPIRED.message, { extensions: { ...TOKEN_EXPIRED.extensions } })];
    },
    onComplete(connection) {
      // The `error` messages are written: close as soon as the last one is out.
      if (closing.has(connection) && connection.streams.size === 0) closeExpired(connection);
    },
    onClose(connection) {
      if (connection.expiresAt !== undefined) schedule.delete(connection, connection.expiresAt);
      clearTimeout(closing.get(connection));
      closing.delete(connection);
    },
    close() {
      schedule.stop();
      for (const timer of closing.values()) clearTimeout(timer);
      closing.clear();
    },
  };
}
