/**
 * `@taskgraph/client`: typed operations generated from the supergraph's API schema (`npm run
 * codegen`) and a small client for them: queries and mutations over HTTP, subscriptions over
 * graphql-ws with automatic resume of the change feed.
 */

export { graphql } from './__generated__/gql.js';
export * from './__generated__/graphql.js';
export * from './client.js';
export * from './errors.js';
export type { RequestOptions } from './http.js';
export type { ActiveSubscription, SubscriptionHandlers } from './subscriptions.js';
