import { ErrorCode } from '@taskgraph/runtime';
import { GraphQLError, type ValidationRule } from 'graphql';
import type { SubscriptionPolicy } from './policy.js';

export interface SubscriptionLimitsOptions {
  /** Active subscriptions per WebSocket connection; more are refused with BAD_USER_INPUT. */
  maxSubscriptionsPerConnection: number;
  /** The gateway's query limits (depth, aliases, fields), applied to subscription documents too. */
  validationRules?: readonly ValidationRule[];
}

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
      return [new GraphQLError(`At most ${max} subscriptions per connection`, { extensions: { code: ErrorCode.BAD_USER_INPUT } })];
    },
  };
}
