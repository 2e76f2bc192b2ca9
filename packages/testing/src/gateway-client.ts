import { webSocketUrl } from '@taskgraph/runtime';
import type { FormattedExecutionResult } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import { WebSocket } from 'ws';

/** A close the client saw. */
export interface SeenClose {
  code: number;
  reason: string;
}

/** One subscription's observed messages, for tests and benchmarks. */
export interface ObservedSubscription<TData = Record<string, unknown>> {
  readonly results: FormattedExecutionResult<TData>[];
  /** `performance.now()` at each result's arrival, same index as `results`. */
  readonly receivedAt: number[];
  /** What the subscription ended with: a sink error (formatted errors or a close event), or completion. */
  readonly ended: Promise<{ kind: 'complete' } | { kind: 'error'; error: unknown }>;
  /** Resolves once at least `count` results arrived (rejects after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<FormattedExecutionResult<TData>[]>;
  dispose(): void;
}

export interface GatewayClient {
  readonly client: Client;
  readonly closes: SeenClose[];
  subscribe<TData = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): ObservedSubscription<TData>;
  close(): Promise<void>;
}

/** `http://host/graphql` → `ws://host/graphql` (the runtime's `webSocketUrl`, named for tests). */
export const gatewayWebSocketUrl = webSocketUrl;

/**
 * A graphql-ws client of the gateway (`connection_init` `{ authorization: "Bearer <token>" }`), no
 * retries, recording every result with its arrival time: for tests and `bench/realtime-latency.ts`.
 */
export function connectGateway(gatewayUrl: string, token: string | undefined): GatewayClient {
  const closes: SeenClose[] = [];
  const client = createClient({
    url: gatewayWebSocketUrl(gatewayUrl),
    webSocketImpl: WebSocket,
    connectionParams: token === undefined ? {} : { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: true,
    on: {
      closed: (event) => {
        const close = event as { code: number; reason: string };
        closes.push({ code: close.code, reason: String(close.reason) });
      },
    },
  });
  return {
    client,
    closes,
    subscribe<TData>(query: string, variables?: Record<string, unknown>): ObservedSubscription<TData> {
      const results: FormattedExecutionResult<TData>[] = [];
      const receivedAt: number[] = [];
      const waiters = new Set<() => void>();
      let settle: (value: { kind: 'complete' } | { kind: 'error'; error: unknown }) => void = () => {};
      const ended = new Promise<{ kind: 'complete' } | { kind: 'error'; error: unknown }>((resolve) => {
        settle = resolve;
      });
      let finished = false;
      const dispose = client.subscribe<TData, Record<string, unknown>>(
        { query, ...(variables ? { variables } : {}) },
        {
          next: (result) => {
            results.push(result);
            receivedAt.push(performance.now());
            for (const waiter of [...waiters]) waiter();
          },
          error: (error) => {
            finished = true;
            settle({ kind: 'error', error });
            for (const waiter of [...waiters]) waiter();
          },
          complete: () => {
            finished = true;
            settle({ kind: 'complete' });
            for (const waiter of [...waiters]) waiter();
          },
        },
      );
      return {
        results,
        receivedAt,
        ended,
        dispose,
        waitFor(count, timeoutMs = 5_000) {
          return new Promise((resolve, reject) => {
            const check = () => {
              if (results.length >= count) {
                cleanup();
                resolve(results);
              } else if (finished) {
                cleanup();
                reject(new Error(`subscription ended after ${results.length} of ${count} results`));
              }
            };
            const timer = setTimeout(() => {
              cleanup();
              reject(new Error(`timed out with ${results.length} of ${count} results`));
            }, timeoutMs);
            const cleanup = () => {
              clearTimeout(timer);
              waiters.delete(check);
            };
            waiters.add(check);
            check();
          });
        },
      };
    },
    close: () => client.dispose() as Promise<void>,
  };
}

/** Polls `predicate` every 10 ms until it holds (rejects after `timeoutMs`). */
export async function eventually(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
  what: string | (() => string) = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
