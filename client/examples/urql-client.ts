import { Client, cacheExchange, fetchExchange, subscriptionExchange } from '@urql/core';
import { createClient } from 'graphql-ws';

/** urql for the taskgraph gateway: fetch for queries and mutations, graphql-ws for subscriptions. */
export function createUrqlClient(options: { url: string; token: string; webSocketImpl?: unknown }) {
  const authorization = `Bearer ${options.token}`;
  const ws = createClient({
    url: options.url.replace(/^http/, 'ws'),
    connectionParams: { authorization },
    webSocketImpl: options.webSocketImpl, // omit in browsers and on Node ≥ 22
  });
  return new Client({
    url: options.url,
    // POST, not GET: the gateway's CSRF prevention refuses GET requests without a preflight header.
    preferGetMethod: false,
    fetchOptions: () => ({ headers: { authorization } }),
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({ unsubscribe: ws.subscribe({ ...request, query: request.query ?? '' }, sink) }),
        }),
      }),
    ],
  });
}
