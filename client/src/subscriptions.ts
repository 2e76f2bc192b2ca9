import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { DocumentNode, FormattedExecutionResult, GraphQLFormattedError } from 'graphql';
import { type Client, CloseCode } from 'graphql-ws';
import { operationName, persistedHash, persistedQueryExtension, printed, resumeKey } from './documents.js';
import { ClientErrorCode, clientError, TaskgraphError } from './errors.js';

/** What a subscription reports to its caller. */
export interface SubscriptionHandlers<TData> {
  /** One event. */
  next(data: TData): void;
  /**
   * The subscription ended with an error and will not be retried: a GraphQL error such as
   * RESYNC_REQUIRED (the `after` cursor is older than the server retains: reload, then subscribe
   * without `after`), UNAUTHENTICATED/FORBIDDEN, or a connection that could not be re-established.
   */
  error?(error: TaskgraphError): void;
  /** The server completed the subscription. */
  complete?(): void;
}

/** A running subscription. */
export interface ActiveSubscription {
  /** Stops it (sends `complete`); idempotent. */
  unsubscribe(): void;
  /** The last `cursor` seen, for resumable subscriptions (`taskUpdates`): persist it to resume later. */
  readonly cursor: string | undefined;
}

/**
 * Starts one subscription on the shared graphql-ws client. graphql-ws re-sends the very same
 * subscribe payload after every reconnect (its `subscribe` loop), so a resumable operation keeps
 * `variables.after` at the last cursor seen: the re-subscription replays exactly what was missed
 * while the socket was down, with no gap and no duplicate (ARCHITECTURE §6).
 */
export function startSubscription<TData, TVariables>(
  ws: Client,
  document: TypedDocumentNode<TData, TVariables> | DocumentNode,
  variables: TVariables | undefined,
  handlers: SubscriptionHandlers<TData>,
  /** Trusted documents: send a registered document's hash (`query: ""`, graphql-ws needs a string), not its text. */
  options: { persistedDocuments?: boolean } = {},
): ActiveSubscription {
  const key = resumeKey(document);
  // Our own copy: the caller's object stays untouched while we move `after` forward.
  const vars: Record<string, unknown> = { ...(variables as Record<string, unknown> | undefined) };
  let cursor = typeof vars.after === 'string' ? vars.after : undefined;
  let ended = false;
  const hash = options.persistedDocuments ? persistedHash(document) : undefined;
  const payload = {
    query: hash === undefined ? printed(document) : '',
    operationName: operationName(document) ?? null,
    variables: vars,
    ...(hash === undefined ? {} : { extensions: persistedQueryExtension(hash) }),
  };

  const end = (error?: TaskgraphError) => {
    if (ended) return;
    ended = true;
    dispose();
    if (error) handlers.error?.(error);
    else handlers.complete?.();
  };

  const dispose = ws.subscribe<TData>(payload, {
    next(result: FormattedExecutionResult<TData>) {
      if (ended) return;
      if (result.errors && result.errors.length > 0) {
        end(new TaskgraphError(result.errors, { data: result.data }));
        return;
      }
      if (result.data == null) return;
      if (key) {
        const seen = (result.data as Record<string, { cursor?: unknown } | null>)[key]?.cursor;
        if (typeof seen === 'string') {
          cursor = seen;
          vars.after = seen;
        }
      }
      handlers.next(result.data);
    },
    error(error: unknown) {
      end(toTaskgraphError(error));
    },
    complete() {
      end();
    },
  });

  return {
    unsubscribe: () => {
      if (ended) return;
      ended = true;
      dispose();
    },
    get cursor() {
      return cursor;
    },
  };
}

/** graphql-ws reports errors as GraphQL errors (an `error` message), a CloseEvent or an Error. */
export function toTaskgraphError(error: unknown): TaskgraphError {
  if (error instanceof TaskgraphError) return error;
  if (Array.isArray(error)) return new TaskgraphError(error as GraphQLFormattedError[]);
  if (isCloseEvent(error)) {
    const code =
      error.code === CloseCode.Forbidden
        ? 'FORBIDDEN'
        : error.code === CloseCode.Unauthorized
          ? 'UNAUTHENTICATED'
          : ClientErrorCode.CONNECTION_CLOSED;
    return clientError(code, `WebSocket closed (${error.code}${error.reason ? ` ${error.reason}` : ''})`, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return clientError(ClientErrorCode.NETWORK_ERROR, `WebSocket failed: ${message}`, { cause: error });
}

/** A WebSocket CloseEvent (browser or `ws`). */
export const isCloseEvent = (value: unknown): value is { code: number; reason: string } =>
  typeof value === 'object' && value !== null && typeof (value as { code?: unknown }).code === 'number' && 'reason' in value;
