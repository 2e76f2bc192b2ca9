import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Frame } from './serialized-payload.js';

export interface WriteLimits {
  /** Results written to the socket and not yet taken by the kernel at which the connection is full. */
  maxBufferedMessages: number;
  /** Bytes the socket holds unsent at which the connection is full (at most one result more is written). */
  maxBufferedBytes: number;
  /** A full connection on which no write completes for this long is a slow consumer (0: never). */
  stallTimeoutMs?: number;
}

export interface SocketWriterOwner {
  /** The connection was full and has room again. */
  drained(): void;
  /** Full, and no write completed for `stallTimeoutMs`: the client stopped reading. */
  stalled(reason: string): void;
}

/** WebSocket `readyState` OPEN. */
const OPEN = 1;

/**
 * Writes pre-framed subscription results (`SerializedResult`) straight to a client's TCP socket,
 * next to ws' own writes (graphql-ws messages, pings, close), which go through the same socket in
 * call order. Created on a connection's first result, so an idle subscriber holds none of it.
 *
 * Flow control is the socket's own: the connection is *full* while it holds `maxBufferedBytes`
 * unsent (`writableLength`: what the kernel has not taken, ws' frames included) or
 * `maxBufferedMessages` results whose write has not completed; pipelines then hold their results
 * (`hasRoom`) until a write completes and `drained()` is called. A full connection on which no
 * write completes for `stallTimeoutMs` is a slow consumer (`stalled()`).
 */
export class SocketWriter {
  /** Results handed to the socket whose write has not completed. */
  private inFlight = 0;
  private full = false;
  private stallTimer: NodeJS.Timeout | undefined;
  /** One write callback per connection (not one per write). */
  private readonly written = (): void => this.completed();

  constructor(
    private readonly socket: WebSocket,
    private readonly raw: Duplex,
    private readonly limits: WriteLimits,
    private readonly owner: SocketWriterOwner,
  ) {}

  get hasRoom(): boolean {
    return this.inFlight < this.limits.maxBufferedMessages && this.raw.writableLength < this.limits.maxBufferedBytes;
  }

  /** Results written and not yet taken by the kernel, and the bytes the socket holds unsent. */
  get pending(): { messages: number; bytes: number } {
    return { messages: this.inFlight, bytes: this.raw.writableLength };
  }

  /** Writes one frame unless the WebSocket is closing (as ws' `send`: nothing after the close frame). */
  write(frame: Frame): void {
    if (this.socket.readyState !== OPEN) return;
    this.inFlight++;
    if (Buffer.isBuffer(frame)) this.raw.write(frame, this.written);
    else {
      this.raw.cork();
      this.raw.write(frame[0]);
      this.raw.write(frame[1], this.written);
      this.raw.uncork();
    }
    if (!this.full && !this.hasRoom) this.becameFull();
  }

  /** Batches the writes until `uncork` into one system call (several results for this socket). */
  cork(): void {
    this.raw.cork();
  }

  uncork(): void {
    this.raw.uncork();
  }

  /** The connection closed: stop the stall clock. */
  dispose(): void {
    clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    this.full = false;
  }

  private completed(): void {
    this.inFlight--;
    if (!this.full) return;
    clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    if (!this.hasRoom) {
      this.armStall();
      return;
    }
    this.full = false;
    this.owner.drained();
  }

  /** Full: the stall clock starts (and restarts on every completed write while still full). */
  private becameFull(): void {
    this.full = true;
    this.armStall();
  }

  private armStall(): void {
    const timeout = this.limits.stallTimeoutMs ?? 0;
    if (timeout <= 0 || this.stallTimer) return;
    this.stallTimer = setTimeout(() => {
      this.stallTimer = undefined;
      const { messages, bytes } = this.pending;
      this.owner.stalled(`SLOW_CONSUMER: no result read for ${timeout} ms with ${messages} results (${bytes} bytes) waiting`);
    }, timeout);
    this.stallTimer.unref?.();
  }
}
