import type { GraphQLError, ValidationRule } from 'graphql';
import type { SubscribePayload } from 'graphql-ws';
import type { ClientStream } from '../client-stream.js';
import type { ConnectionState } from '../connection-state.js';

/** A refused `connection_init`: the socket closes with `code` and a reason starting with the error code. */
export interface ConnectionRefusal {
  readonly code: number;
  readonly reason: string;
}

/**
 * One concern of the subscription server, written as a plugin (ARCHITECTURE §6): the protocol
 * core (`subscription-server.ts`) calls every policy's hooks in order and knows nothing about
 * what they enforce. Each policy lives in its own file under `policies/` with its own tests.
 * Every hook is optional; hooks must not throw.
 */
export interface SubscriptionPolicy {
  /** For logs and tests. */
  readonly name: string;
  /** Extra validation rules for subscription documents (e.g. the gateway's query limits). */
  readonly validationRules?: readonly ValidationRule[];
  /** `connection_init` authenticated the caller; a refusal closes the socket before `connection_ack`. */
  onConnect?(connection: ConnectionState): ConnectionRefusal | undefined;
  /**
   * A `subscribe` message arrived on an authenticated connection, before it is parsed. Errors
   * refuse it (graphql-ws `error` message; nothing else changes).
   */
  onSubscribe?(connection: ConnectionState, id: string, payload: SubscribePayload): readonly GraphQLError[] | undefined;
  /** A client subscription stream was opened (registered in `connection.streams` under `id`). */
  onStream?(connection: ConnectionState, id: string, stream: ClientStream): void;
  /** A client stream's buffer overflowed; the stream is already ended. */
  onOverflow?(connection: ConnectionState, stream: ClientStream, reason: string): void;
  /** graphql-ws finished operation `id` (its last message is written). */
  onComplete?(connection: ConnectionState, id: string): void;
  /** The socket closed. */
  onClose?(connection: ConnectionState): void;
  /** The server is shutting down. */
  close?(): void;
}
