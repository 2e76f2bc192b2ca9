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
  maxBufferedMessages: number;
  maxBufferedBytes: number;
}

export interface ClientStreamHooks {
  /** The buffer overflowed: the stream is already closed; the owner closes the socket. */
  onOverflow(stream: ClientStream, reason: string): void;
  /** The stream stopped (return, overflow, end drained): detach it from its pipeline. Called once. */
  onDetach(stream: ClientStream): void;
  /** A result was taken by graphql-ws to write to the socket, `seconds` after it was pushed (delivery lag `client_write`). */
  onTaken?(seconds: number): void;
}

type Pending = { result: FormattedExecutionResult; bytes: number; pushedAt: bigint };

/**
 * One client subscription's outgoing results: an async iterator graphql-ws pulls from, with a
 * bounded buffer. graphql-ws awaits each WebSocket write, so results queue here while a client
 * (or its TCP window) is not reading; past `maxBufferedMessages` or `maxBufferedBytes` the stream
 * overflows instead of growing, which keeps gateway memory bounded per subscription.
 */
export class ClientStream implements AsyncIterableIterator<FormattedExecutionResult> {
  private readonly queue: Pending[] = [];
  private queuedBytes = 0;
  private waiter: { resolve(r: IteratorResult<FormattedExecutionResult>): void; reject(e: unknown): void } | undefined;
  /** Set once no more results will be queued: `null` = complete normally, errors = fail. */
  private ending: readonly GraphQLFormattedError[] | null | undefined;
  private detached = false;
  private done = false;

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

  /** Queues a result (`bytes`: its serialized size); overflows past the limits. */
  push(result: FormattedExecutionResult, bytes: number): void {
    if (this.closed) return;
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      this.hooks.onTaken?.(0);
      waiter.resolve({ value: result, done: false });
      return;
    }
    if (this.queue.length + 1 > this.limits.maxBufferedMessages || this.queuedBytes + bytes > this.limits.maxBufferedBytes) {
      const reason = `Slow consumer: more than ${this.limits.maxBufferedMessages} messages or ${this.limits.maxBufferedBytes} bytes unsent`;
      this.finish();
      this.hooks.onOverflow(this, reason);
      return;
    }
    this.queue.push({ result, bytes, pushedAt: process.hrtime.bigint() });
    this.queuedBytes += bytes;
  }

  /**
   * No more results: complete (no `errors`) or fail with `errors` once the queued results are
   * sent. `discard` drops queued results first (e.g. the caller's token expired).
   */
  end(errors?: readonly GraphQLFormattedError[], options: { discard?: boolean } = {}): void {
    if (this.closed) return;
    if (options.discard) {
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

  private settleEnd(waiter: { resolve(r: IteratorResult<FormattedExecutionResult>): void; reject(e: unknown): void }): void {
    const errors = this.ending;
    this.done = true;
    if (errors) waiter.reject(new SubscriptionTerminated(errors));
    else waiter.resolve({ value: undefined, done: true });
  }

  private finish(): void {
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
