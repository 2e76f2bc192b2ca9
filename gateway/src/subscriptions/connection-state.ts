import { AppError, ErrorCode } from '@taskgraph/runtime';
import { decodeJwt } from 'jose';
import type { WebSocket } from 'ws';
import type { Authenticate } from '../auth.js';
import type { ClientStream } from './client-stream.js';

/**
 * One authenticated graphql-ws connection: the caller from `connection_init`, the token's
 * expiry and its subscription streams by operation id. Policies (`policies/`) act on it.
 */
export class ConnectionState {
  readonly streams = new Map<string, ClientStream>();

  constructor(
    readonly userId: string,
    readonly socket: WebSocket,
    /** The JWT's `exp` in ms since the epoch, if it has one. */
    readonly expiresAt: number | undefined,
  ) {}
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
