import { ErrorCode } from '@taskgraph/runtime';
import type { FormattedExecutionResult, GraphQLFormattedError } from 'graphql';

/**
 * A terminal failure of one client subscription, already formatted for the client. Thrown out of
 * the stream so graphql-ws sends an `error` message; the server's `onError` hook unwraps it.
 */
export class SubscriptionTerminated extends Error {
  constructor(readonly errors: readonly GraphQLFormattedError[]) {
    super(errors[0]?.message ?? 'Subscription ended');
    this.name = 'SubscriptionTerminated';
  }
}

export interface ClientStreamLimits {
  /** Results queued before the stream counts as full (its pipeline then waits). */
  maxBufferedMessages: number;
  /** Serialized bytes queued before the stream counts as full (at most one result more is queued). */
  maxBufferedBytes: number;
  /** A full stream from which no result is taken for this long is a slow consumer (0: never). */
  stallTimeoutMs?: number;
}

export interface ClientStreamHooks {
  /** The client is a slow consumer: the stream is already closed; the owner closes the socket. */
  onOverflow(stream: ClientStream, reason: string): void;
  /** The stream stopped (return, overflow, end drained): detach it from its pipeline. Called once. */
  onDetach(stream: ClientStream): void;
  /** A result was taken by graphql-ws to write to the socket, `seconds` after it was pushed (delivery lag `client_write`). */
  onTaken?(seconds: number): void;
  /** The stream was full and has room again (a result was taken): its pipeline may deliver more. */
  onDrain?(stream: ClientStream): void;
}

type Pending = { result: FormattedExecutionResult; bytes: number; pushedAt: bigint };

/**
 * One client subscription's outgoing results: an async iterator graphql-ws pulls from, with a
 * bounded buffer. graphql-ws awaits each WebSocket write before it takes the next result, so the
 * queue grows only while the client (or its TCP window) is behind. At `maxBufferedMessages` or
 * `maxBufferedBytes` the stream is full: its pipeline stops delivering (`hasRoom`) and resumes on
 * `onDrain`, so a large replay flows at the pace the client reads (flow control, never an error).
 * A full stream from which nothing is taken for `stallTimeoutMs` is a slow consumer (`onOverflow`);
 * so is a push into a full stream (a producer that ignores `hasRoom`).
 */
export class ClientStream implements AsyncIterableIterator<FormattedExecutionResult> {
  private readonly queue: Pending[] = [];
  private queuedBytes = 0;
  private waiter: { resolve(r: IteratorResult<FormattedExecutionResult>): void; reject(e: unknown): void } | undefined;
  /** Set once no more results will be queued: `null` = complete normally, errors = fail. */
  private ending: readonly GraphQLFormattedError[] | null | undefined;
  private detached = false;
  private done = false;
  private stallTimer: NodeJS.Timeout | undefined;
  private wasFull = false;

  constructor(
    private readonly limits: ClientStreamLimits,
    private readonly hooks: ClientStreamHooks,
  ) {}

  /** Results queued and not yet taken by graphql-ws. */
  get buffered(): { messages: number; bytes: number } {
    return { messages: this.queue.length, bytes: this.queuedBytes };
  }

  get closed(): boolean {
    return this.done || this.ending !== undefined;
  }

  /** Whether another result may be pushed (a closed stream takes anything and drops it). */
  get hasRoom(): boolean {
    return this.closed || (this.queue.length < this.limits.maxBufferedMessages && this.queuedBytes < this.limits.maxBufferedBytes);
  }

  /** Queues a result (`bytes`: its serialized size). Pushing into a full stream makes it a slow consumer. */
  push(result: FormattedExecutionResult, bytes: number): void {
    if (this.closed) return;
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      this.hooks.onTaken?.(0);
      waiter.resolve({ value: result, done: false });
      return;
    }
    if (!this.hasRoom) {
      this.slowConsumer(
        `SLOW_CONSUMER: more than ${this.limits.maxBufferedMessages} messages or ${this.limits.maxBufferedBytes} bytes unsent`,
      );
      return;
    }
    this.queue.push({ result, bytes, pushedAt: process.hrtime.bigint() });
    this.queuedBytes += bytes;
    if (!this.hasRoom) this.becameFull();
  }

  /**
   * No more results: complete (no `errors`) or fail with `errors` once the queued results are
   * sent. `discard` drops queued results first (e.g. the caller's token expired).
   */
  end(errors?: readonly GraphQLFormattedError[], options: { discard?: boolean } = {}): void {
    if (this.closed) return;
    if (options.discard) {
      clearTimeout(this.stallTimer);
      this.stallTimer = undefined;
      this.queue.length = 0;
      this.queuedBytes = 0;
    }
    this.ending = errors && errors.length > 0 ? errors : null;
    this.hooks.onDetach(this);
    this.detached = true;
    const waiter = this.waiter;
    if (waiter && this.queue.length === 0) {
      this.waiter = undefined;
      this.settleEnd(waiter);
    }
  }

  next(): Promise<IteratorResult<FormattedExecutionResult>> {
    const head = this.queue.shift();
    if (head) {
      this.queuedBytes -= head.bytes;
      this.hooks.onTaken?.(Number(process.hrtime.bigint() - head.pushedAt) / 1e9);
      this.progressed();
      return Promise.resolve({ value: head.result, done: false });
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    if (this.ending !== undefined) {
      return new Promise((resolve, reject) => this.settleEnd({ resolve, reject }));
    }
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** The client completed or disconnected. */
  return(): Promise<IteratorResult<FormattedExecutionResult>> {
    this.finish();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<FormattedExecutionResult>> {
    this.finish();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Full: the stall clock starts (and restarts on every result taken while still full). */
  private becameFull(): void {
    this.wasFull = true;
    const timeout = this.limits.stallTimeoutMs ?? 0;
    if (timeout <= 0 || this.stallTimer) return;
    this.stallTimer = setTimeout(() => {
      this.stallTimer = undefined;
      const { messages, bytes } = this.buffered;
      this.slowConsumer(`SLOW_CONSUMER: no result read for ${timeout} ms with ${messages} results (${bytes} bytes) waiting`);
    }, timeout);
    this.stallTimer.unref?.();
  }

  private progressed(): void {
    if (!this.wasFull) return;
    clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    if (!this.hasRoom) {
      this.becameFull();
      return;
    }
    this.wasFull = false;
    this.hooks.onDrain?.(this);
  }

  /** Ends with a SLOW_CONSUMER error (queued results dropped), then tells the owner. */
  private slowConsumer(reason: string): void {
    this.end([slowConsumerError(reason)], { discard: true });
    this.hooks.onOverflow(this, reason);
  }

  private settleEnd(waiter: { resolve(r: IteratorResult<FormattedExecutionResult>): void; reject(e: unknown): void }): void {
    const errors = this.ending;
    this.done = true;
    if (errors) waiter.reject(new SubscriptionTerminated(errors));
    else waiter.resolve({ value: undefined, done: true });
  }

  private finish(): void {
    clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    this.done = true;
    this.ending ??= null;
    this.queue.length = 0;
    this.queuedBytes = 0;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.resolve({ value: undefined, done: true });
    if (!this.detached) {
      this.detached = true;
      this.hooks.onDetach(this);
    }
  }
}

/** The error every subscription of a slow consumer ends with (graphql-ws `error` message). */
export const slowConsumerError = (reason: string): GraphQLFormattedError => ({
  message: reason,
  extensions: { code: ErrorCode.SLOW_CONSUMER },
});
