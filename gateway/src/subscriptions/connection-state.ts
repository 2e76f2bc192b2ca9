import type { Duplex } from 'node:stream';
import { AppError, ErrorCode } from '@taskgraph/runtime';
import { decodeJwt } from 'jose';
import type { WebSocket } from 'ws';
import type { Authenticate } from '../auth.js';
import type { ClientStream } from './client-stream.js';
import type { Frame } from './serialized-payload.js';
import { SocketWriter, type SocketWriterOwner, type WriteLimits } from './socket-writer.js';

/**
 * One authenticated graphql-ws connection: the caller from `connection_init`, the token's
 * expiry and its subscription streams by operation id. Policies (`policies/`) act on it.
 * Subscription results are written to its socket directly (`write`, fan-out path); the
 * `SocketWriter` that tracks them is created with the first result.
 */
export class ConnectionState implements SocketWriterOwner {
  readonly streams = new Map<string, ClientStream>();
  private writer: SocketWriter | undefined;

  constructor(
    readonly userId: string,
    readonly socket: WebSocket,
    /** The JWT's `exp` in ms since the epoch, if it has one. */
    readonly expiresAt: number | undefined,
    /** The TCP socket under `socket` (results are written to it), and the bounds of what it may hold unsent. */
    private readonly output: { readonly raw: Duplex; readonly limits: WriteLimits },
  ) {}

  /** Whether another result may be written (see `SocketWriter`). */
  get hasRoom(): boolean {
    return this.writer?.hasRoom ?? true;
  }

  /** Results written and not yet taken by the kernel, and the bytes the socket holds unsent. */
  get pending(): { messages: number; bytes: number } {
    return this.writer?.pending ?? { messages: 0, bytes: this.output.raw.writableLength };
  }

  /** Writes one pre-framed result (nothing once the WebSocket is closing). */
  write(frame: Frame): void {
    this.writer ??= new SocketWriter(this.socket, this.output.raw, this.output.limits, this);
    this.writer.write(frame);
  }

  /** Batches the writes until `uncork` (several results for this connection at once). */
  cork(): void {
    this.output.raw.cork();
  }

  uncork(): void {
    this.output.raw.uncork();
  }

  /** The socket closed. */
  dispose(): void {
    this.writer?.dispose();
  }

  drained(): void {
    for (const stream of [...this.streams.values()]) stream.drained();
  }

  stalled(reason: string): void {
    for (const stream of this.streams.values()) {
      if (stream.closed) continue;
      // The slow-consumer policy ends the connection's other subscriptions and closes it.
      stream.overflow(reason);
      return;
    }
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
