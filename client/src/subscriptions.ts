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
 * Error codes after which a subscription is started again (after `retryWait`, from its last
 * cursor) instead of ending: the gateway or a subgraph ended it for a passing reason (upstream
 * restart, a slow consumer, a rate limit). `UNAUTHENTICATED` is retried only when the token
 * expired mid-stream and the token source is a function (a fresh token is fetched on reconnect).
 */
export const RESUMABLE_CODES: readonly string[] = ['UNAVAILABLE', 'SLOW_CONSUMER', 'RATE_LIMITED', 'UPSTREAM_TIMEOUT'];

/** How `startSubscription` starts again after a resumable error. */
export interface ResumePolicy {
  /** Attempts in a row without a delivered event before the error goes to `error`. */
  retryAttempts: number;
  /** Wait before attempt `retries` (0-based). */
  retryWait(retries: number): Promise<void>;
  /** Whether an expired token can be replaced (the token source is a function). */
  tokenRefreshes: boolean;
}

/**
 * Starts one subscription on the shared graphql-ws client. graphql-ws re-sends the very same
 * subscribe payload after every reconnect (its `subscribe` loop), so a resumable operation keeps
 * `variables.after` at the last cursor seen: the re-subscription replays exactly what was missed
 * while the socket was down, with no gap and no duplicate (ARCHITECTURE §6). When the server ends
 * the subscription with a resumable error (`RESUMABLE_CODES`, or an expired token that can be
 * refreshed), it is started again the same way after `retryWait`, so the caller sees no error.
 */
export function startSubscription<TData, TVariables>(
  ws: Client,
  document: TypedDocumentNode<TData, TVariables> | DocumentNode,
  variables: TVariables | undefined,
  handlers: SubscriptionHandlers<TData>,
  options: {
    /** Trusted documents: send a registered document's hash (`query: ""`, graphql-ws needs a string), not its text. */
    persistedDocuments?: boolean;
    /** Starting again after resumable errors; default: never. */
    resume?: ResumePolicy;
  } = {},
): ActiveSubscription {
  const resume = options.resume ?? { retryAttempts: 0, retryWait: async () => {}, tokenRefreshes: false };
  const key = resumeKey(document);
  // Our own copy: the caller's object stays untouched while we move `after` forward.
  const vars: Record<string, unknown> = { ...(variables as Record<string, unknown> | undefined) };
  let cursor = typeof vars.after === 'string' ? vars.after : undefined;
  let ended = false;
  let retries = 0;
  const hash = options.persistedDocuments ? persistedHash(document) : undefined;
  const payload = {
    query: hash === undefined ? printed(document) : '',
    operationName: operationName(document) ?? null,
    variables: vars,
    ...(hash === undefined ? {} : { extensions: persistedQueryExtension(hash) }),
  };
  let dispose = () => {};

  const end = (error?: TaskgraphError) => {
    if (ended) return;
    ended = true;
    dispose();
    if (error) handlers.error?.(error);
    else handlers.complete?.();
  };

  /** A resumable failure starts the subscription again (after the backoff); any other ends it. */
  const fail = (error: TaskgraphError) => {
    if (ended) return;
    const expired = error.code === 'UNAUTHENTICATED' && /expired/i.test(error.message) && error.status === undefined;
    const resumable = RESUMABLE_CODES.includes(error.code) || (expired && resume.tokenRefreshes);
    if (!resumable || retries >= resume.retryAttempts) {
      end(error);
      return;
    }
    dispose();
    const attempt = retries++;
    void resume.retryWait(attempt).then(() => {
      if (!ended) run();
    });
  };

  const run = () => {
    let done = false;
    dispose = ws.subscribe<TData>(payload, {
      next(result: FormattedExecutionResult<TData>) {
        if (ended || done) return;
        if (result.errors && result.errors.length > 0) {
          done = true;
          fail(new TaskgraphError(result.errors, { data: result.data }));
          return;
        }
        if (result.data == null) return;
        retries = 0;
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
        if (done) return;
        done = true;
        // A graphql-ws `error` message (the server ended this subscription) or a close it will not retry.
        fail(toTaskgraphError(error));
      },
      complete() {
        if (done) return;
        done = true;
        end();
      },
    });
  };
  run();

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
    // The gateway's close reasons start with the error code: `UNAUTHENTICATED: Invalid token`.
    const coded = /^([A-Z][A-Z_]+): (.*)$/s.exec(error.reason ?? '');
    if (coded) return clientError(coded[1]!, coded[2]!, { cause: error });
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
