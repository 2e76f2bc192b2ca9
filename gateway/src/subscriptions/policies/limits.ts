import type { ValidationRule } from 'graphql';
import { rateLimitedError } from '../../protection/errors.js';
import type { SubscriptionPolicy } from './policy.js';

export interface SubscriptionLimitsOptions {
  /** Active subscriptions per WebSocket connection; more are refused with RATE_LIMITED. */
  maxSubscriptionsPerConnection: number;
  /** The gateway's query limits (depth, aliases, fields), applied to subscription documents too. */
  validationRules?: readonly ValidationRule[];
}

/** Retry hint of a refused subscription over the per-connection maximum. */
const CONNECTION_RETRY_AFTER_MS = 1_000;

/**
 * The gateway's per-operation limits on the socket: the same validation rules as HTTP (same codes)
 * and a bound on subscriptions per connection, which with the per-stream buffer bounds the memory
 * one connection can hold.
 */
export function subscriptionLimitsPolicy(options: SubscriptionLimitsOptions): SubscriptionPolicy {
  const max = options.maxSubscriptionsPerConnection;
  return {
    name: 'limits',
    validationRules: options.validationRules ?? [],
    onSubscribe(connection) {
      if (connection.streams.size < max) return undefined;
      // Coded like the per-user limits (issue 14); a slot frees when one of the connection's subscriptions ends.
      const refusal = { limit: 'connectionSubscriptions', max, retryAfterMs: CONNECTION_RETRY_AFTER_MS };
      return [rateLimitedError(refusal, `At most ${max} subscriptions per connection`)];
    },
  };
}
