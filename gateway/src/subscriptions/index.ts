export { ClientStream, SubscriptionTerminated } from './client-stream.js';
export type { FormatError } from './event-executor.js';
export type { SubscriptionMetrics } from './metrics.js';
export { DEFAULT_SUBSCRIPTION_OPTIONS, SubscriptionCloseCode, type SubscriptionOptions } from './options.js';
export { type SubscriptionPlan, SubscriptionPlanner } from './planner.js';
export type { ConnectionRefusal, SubscriptionPolicy } from './policies/policy.js';
export { TOKEN_EXPIRED } from './policies/token-expiry.js';
export {
  attachSubscriptions,
  type SubscriptionBuffers,
  type SubscriptionHost,
  type SubscriptionServer,
  type SubscriptionStats,
} from './subscription-server.js';
