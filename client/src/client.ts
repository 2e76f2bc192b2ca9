import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { CloseCode, createClient } from 'graphql-ws';
import { executeHttp, type RequestOptions } from './http.js';
import { type ActiveSubscription, isCloseEvent, type SubscriptionHandlers, startSubscription } from './subscriptions.js';

/** A bearer token, or a function returning the current one (read for every request and every connection). */
export type TokenSource = string | (() => string | Promise<string>);

/** State of the shared WebSocket, for a "live" indicator. */
export type ConnectionState = 'connecting' | 'connected' | 'closed';

export interface TaskgraphClientOptions {
  /** The gateway's GraphQL endpoint, e.g. `http://localhost:4000/graphql`. */
  url: string;
  /** Bearer token (`npm run token -- alice`, or the dev page's `/dev/token`). */
  token: TokenSource;
  /**
   * WebSocket constructor for subscriptions. Browsers and Node ≥ 22 have a global one; on Node 20
   * pass `WebSocket` from `ws`.
   */
  webSocketImpl?: unknown;
  /** graphql-ws endpoint; default: `url` with `http` → `ws`. */
  wsUrl?: string;
  /** Default: the global `fetch`. */
  fetch?: typeof globalThis.fetch;
  /** Reconnect attempts after the socket drops (default: unlimited, with capped backoff). */
  retryAttempts?: number;
  /** Wait before reconnect attempt `retries` (0-based); default: 0.5 s doubling up to 10 s, with jitter. */
  retryWait?: (retries: number) => Promise<void>;
  /** Called on every WebSocket state change. */
  onConnectionChange?: (state: ConnectionState) => void;
}

/**
 * `[variables, options]`, variables optional when the operation has no required variable. The
 * document alone decides `TVariables` (`NoInfer`), so a misspelled variable is an excess property.
 */
type VariablesArgs<TVariables> =
  Record<string, never> extends TVariables
    ? [variables?: NoInfer<TVariables>, options?: RequestOptions]
    : [variables: NoInfer<TVariables>, options?: RequestOptions];

/** Subscription handlers plus `variables`, required when the operation has a required variable. */
export type SubscribeOptions<TData, TVariables> = SubscriptionHandlers<TData> &
  (Record<string, never> extends TVariables ? { variables?: NoInfer<TVariables> } : { variables: NoInfer<TVariables> });

/** Typed access to the taskgraph API through the gateway. */
export interface TaskgraphClient {
  /** Runs a query over HTTP; rejects with `TaskgraphError` (with `extensions.code`) on any error. */
  query<TData, TVariables>(document: TypedDocumentNode<TData, TVariables>, ...args: VariablesArgs<TVariables>): Promise<TData>;
  /** Runs a mutation over HTTP; rejects with `TaskgraphError` on any error. */
  mutate<TData, TVariables>(document: TypedDocumentNode<TData, TVariables>, ...args: VariablesArgs<TVariables>): Promise<TData>;
  /**
   * Subscribes over graphql-ws (one shared, lazily opened socket). The socket reconnects on its
   * own; `taskUpdates` (any operation with `$after: Cursor` selecting `cursor`) then resumes after
   * the last cursor it delivered. Terminal errors, such as RESYNC_REQUIRED, go to `error`.
   */
  subscribe<TData, TVariables>(
    document: TypedDocumentNode<TData, TVariables>,
    options: SubscribeOptions<TData, TVariables>,
  ): ActiveSubscription;
  /** Closes the WebSocket; pending subscriptions complete. */
  dispose(): Promise<void>;
}

/** Close codes that no reconnect can fix (the token, or the request itself, is refused). */
const FATAL_CLOSE_CODES: readonly number[] = [CloseCode.Unauthorized, CloseCode.Forbidden, CloseCode.BadRequest];

export function createTaskgraphClient(options: TaskgraphClientOptions): TaskgraphClient {
  const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  const authorization = async () => `Bearer ${typeof options.token === 'function' ? await options.token() : options.token}`;
  const http = { url: options.url, fetch: fetchImpl, authorization };

  const ws = createClient({
    url: options.wsUrl ?? options.url.replace(/^http/, 'ws'),
    ...(options.webSocketImpl ? { webSocketImpl: options.webSocketImpl } : {}),
    connectionParams: async () => ({ authorization: await authorization() }),
    lazy: true,
    retryAttempts: options.retryAttempts ?? Number.POSITIVE_INFINITY,
    retryWait: options.retryWait ?? defaultRetryWait,
    shouldRetry: (event) => !(isCloseEvent(event) && FATAL_CLOSE_CODES.includes(event.code)),
    on: {
      connecting: () => options.onConnectionChange?.('connecting'),
      connected: () => options.onConnectionChange?.('connected'),
      closed: () => options.onConnectionChange?.('closed'),
    },
  });

  return {
    query: (document, ...[variables, requestOptions]) => executeHttp(http, document, variables, requestOptions),
    mutate: (document, ...[variables, requestOptions]) => executeHttp(http, document, variables, requestOptions),
    subscribe: (document, handlers) => startSubscription(ws, document, (handlers as { variables?: never }).variables, handlers),
    dispose: async () => {
      await ws.dispose();
    },
  };
}

/** 0.5 s, 1 s, 2 s … capped at 10 s, plus up to 30 % jitter so many clients do not reconnect in step. */
async function defaultRetryWait(retries: number): Promise<void> {
  const base = Math.min(10_000, 500 * 2 ** retries);
  await new Promise((resolve) => setTimeout(resolve, base + Math.random() * base * 0.3));
}
