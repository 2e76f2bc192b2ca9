import { ErrorCode } from '@taskgraph/runtime';
import type { GraphQLFormattedError } from 'graphql';
import type { ConnectionState } from './connection-state.js';
import type { SerializedResult } from './serialized-payload.js';

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

export interface ClientStreamHooks {
  /** The client is a slow consumer: the stream is already closed; the owner closes the socket. */
  onOverflow(stream: ClientStream, reason: string): void;
  /** The stream stopped (return, overflow, end): detach it from its pipeline. Called once. */
  onDetach(stream: ClientStream): void;
  /** The stream's connection was full and has room again: its pipeline may deliver more. */
  onDrain?(stream: ClientStream): void;
}

type Waiter = { resolve(r: IteratorResult<never>): void; reject(e: unknown): void };

/**
 * One client subscription (graphql-ws operation `id` on one connection). Its pipeline writes each
 * result straight to the connection's socket (`push`: one pre-built frame, no queue here, no
 * per-result promise): graphql-ws iterates the stream only to learn how it ends. Its one pending
 * `next()` settles when the stream ends: done (graphql-ws sends `complete`) or rejected with
 * `SubscriptionTerminated` (graphql-ws sends `error`). Everything pushed before is in the socket
 * already, so the `complete`/`error` message follows the last result.
 *
 * Flow control is per connection (`ConnectionState.hasRoom`, see `SocketWriter`): the pipeline delivers
 * a result only while every stream has room and resumes on `onDrain`.
 */
export class ClientStream implements AsyncIterableIterator<never> {
  private waiter: Waiter | undefined;
  /** Set once no more results will be written: `null` = complete normally, errors = fail. */
  private ending: readonly GraphQLFormattedError[] | null | undefined;
  private detached = false;
  private done = false;

  constructor(
    /** The graphql-ws operation id (part of every message to the client). */
    readonly id: string,
    /** The connection whose socket the results are written to. */
    readonly connection: ConnectionState,
    /** Shared by the streams of one pipeline. */
    private readonly hooks: ClientStreamHooks,
  ) {}

  get closed(): boolean {
    return this.done || this.ending !== undefined;
  }

  /** Whether another result may be pushed (a closed stream takes anything and drops it). */
  get hasRoom(): boolean {
    return this.closed || this.connection.hasRoom;
  }

  /** Writes a result to the client (its frame for this stream's id); dropped once the stream is closed. */
  push(result: SerializedResult): void {
    if (this.closed) return;
    this.connection.write(result.frame(this.id));
  }

  /**
   * No more results: complete (no `errors`) or fail with `errors`. Results pushed before are in
   * the socket already and reach the client first.
   */
  end(errors?: readonly GraphQLFormattedError[]): void {
    if (this.closed) return;
    this.ending = errors && errors.length > 0 ? errors : null;
    this.detach();
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      this.settleEnd(waiter);
    }
  }

  /** Ends with a SLOW_CONSUMER error, then tells the owner (which closes the connection). */
  overflow(reason: string): void {
    if (this.closed) return;
    this.end([slowConsumerError(reason)]);
    this.hooks.onOverflow(this, reason);
  }

  cork(): void {
    this.connection.cork();
  }

  uncork(): void {
    this.connection.uncork();
  }

  /** The connection has room again. */
  drained(): void {
    if (!this.closed) this.hooks.onDrain?.(this);
  }

  /** graphql-ws waits here for the end of the subscription (results bypass it). */
  next(): Promise<IteratorResult<never>> {
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    if (this.ending !== undefined) {
      return new Promise((resolve, reject) => this.settleEnd({ resolve, reject }));
    }
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** The client completed or disconnected. */
  return(): Promise<IteratorResult<never>> {
    this.finish();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<never>> {
    this.finish();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private detach(): void {
    if (this.detached) return;
    this.detached = true;
    this.hooks.onDetach(this);
  }

  private settleEnd(waiter: Waiter): void {
    const errors = this.ending;
    this.done = true;
    if (errors) waiter.reject(new SubscriptionTerminated(errors));
    else waiter.resolve({ value: undefined, done: true });
  }

  private finish(): void {
    this.done = true;
    this.ending ??= null;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.resolve({ value: undefined, done: true });
    this.detach();
  }
}

/** The error every subscription of a slow consumer ends with (graphql-ws `error` message). */
export const slowConsumerError = (reason: string): GraphQLFormattedError => ({
  message: reason,
  extensions: { code: ErrorCode.SLOW_CONSUMER },
});
