import { AppError, ErrorCode } from '@taskgraph/runtime';
import type { GraphQLFormattedError } from 'graphql';
import { decodeJwt } from 'jose';
import type { WebSocket } from 'ws';
import type { Authenticate } from '../auth.js';
import type { ClientStream } from './client-stream.js';
import { SubscriptionCloseCode } from './options.js';

/** Largest delay `setTimeout` accepts (~24.8 days); longer expiries re-arm. */
const MAX_TIMER_MS = 2_147_483_647;

/** How long the `error` messages of expired subscriptions may take to flush before the socket closes. */
const EXPIRY_FLUSH_MS = 2_000;

export const TOKEN_EXPIRED: GraphQLFormattedError = { message: 'Token expired', extensions: { code: ErrorCode.UNAUTHENTICATED } };

/**
 * One authenticated graphql-ws connection: the caller from `connection_init`, its subscription
 * streams by operation id, and the timer that ends them when the JWT expires.
 *
 * On expiry every active subscription gets a graphql-ws `error` message
 * `[{ message: "Token expired", extensions: { code: "UNAUTHENTICATED" } }]` (undelivered results
 * are dropped), then the socket closes with 4403 "Token expired" so the client reconnects with a
 * fresh token in `connection_init` and resubscribes with its last cursor.
 */
export class ConnectionState {
  readonly streams = new Map<string, ClientStream>();
  private expired = false;
  private timer: NodeJS.Timeout | undefined;
  private closeTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly userId: string,
    readonly socket: WebSocket,
    expiresAt: number | undefined,
  ) {
    if (expiresAt !== undefined) this.arm(expiresAt);
  }

  get isExpired(): boolean {
    return this.expired;
  }

  /** graphql-ws finished an operation (its last message is written): close if the token expired. */
  completed(id: string): void {
    this.streams.delete(id);
    if (this.expired && this.streams.size === 0) this.closeExpired();
  }

  dispose(): void {
    clearTimeout(this.timer);
    clearTimeout(this.closeTimer);
  }

  private arm(expiresAt: number): void {
    const delay = expiresAt - Date.now();
    this.timer = setTimeout(
      () => (Date.now() >= expiresAt ? this.expire() : this.arm(expiresAt)),
      Math.min(Math.max(delay, 0), MAX_TIMER_MS),
    );
  }

  private expire(): void {
    this.expired = true;
    if (this.streams.size === 0) {
      this.closeExpired();
      return;
    }
    for (const stream of this.streams.values()) stream.end([TOKEN_EXPIRED], { discard: true });
    this.closeTimer = setTimeout(() => this.closeExpired(), EXPIRY_FLUSH_MS);
  }

  private closeExpired(): void {
    clearTimeout(this.closeTimer);
    this.socket.close(SubscriptionCloseCode.Forbidden, 'Token expired');
  }
}

/**
 * Verifies `connection_init` `{ authorization: "Bearer <jwt>" }` exactly like the HTTP
 * `Authorization` header (same `Authenticate`), and reads the token's expiry (`exp`).
 */
export async function authenticateConnection(
  authenticate: Authenticate,
  params: Readonly<Record<string, unknown>> | undefined,
): Promise<{ userId: string; expiresAt: number | undefined }> {
  const value = params?.authorization ?? params?.Authorization;
  const authorization = typeof value === 'string' ? value : undefined;
  const { userId } = await authenticate(authorization);
  // Verified above, so decoding without verifying again is safe.
  const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
  let expiresAt: number | undefined;
  try {
    const exp = token ? decodeJwt(token).exp : undefined;
    expiresAt = typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    throw new AppError(ErrorCode.UNAUTHENTICATED, 'Invalid token');
  }
  return { userId, expiresAt };
}
