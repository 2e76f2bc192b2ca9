import { type DocumentNode, type GraphQLError, type GraphQLSchema, getOperationAST, parse } from 'graphql';
import { estimateOperationCost, fragmentsOf } from '../../protection/cost.js';
import type { CostModel } from '../../protection/cost-model.js';
import { costLimitError, rateLimitedError } from '../../protection/errors.js';
import type { RefusalCounter } from '../../protection/metrics.js';
import { isRefusal, type Slot, type UserLimiter } from '../../protection/user-limiter.js';
import type { ConnectionState } from '../connection-state.js';
import type { SubscriptionPolicy } from './policy.js';

export interface FairnessPolicyOptions {
  /** The gateway's per-user limiter, shared with HTTP. */
  limiter: UserLimiter;
  /** The client-facing schema now (undefined before the first supergraph is loaded). */
  schema(): GraphQLSchema | undefined;
  model: CostModel;
  /** Largest estimated cost of one event of a subscription. */
  maxEventCost: number;
  /** Counts refusals (`gateway_refusals_total`, transport `ws`). */
  refusals?: RefusalCounter;
}

/**
 * Demand control and per-user fairness on the socket (issue 14), sharing the HTTP limiter:
 * - every `subscribe` message (subscription, or a query/mutation over the socket) takes a token of
 *   the user's bucket, else RATE_LIMITED with `retryAfterMs` (queries and mutations then pass
 *   Apollo's `protectionPlugin`, which applies their cost budget and in-flight cap);
 * - a subscription is costed per event (its selection set, once) against `maxEventCost`, else
 *   COST_LIMIT_EXCEEDED, before it is planned or any upstream opened;
 * - the user's active subscriptions over all their connections are capped, else RATE_LIMITED.
 * Refusals are graphql-ws `error` messages; the connection and its other subscriptions go on.
 */
export function fairnessPolicy(options: FairnessPolicyOptions): SubscriptionPolicy {
  const { limiter } = options;
  /** Slots of open streams, per connection and operation id. */
  const slots = new WeakMap<ConnectionState, Map<string, Slot>>();

  const subscriptionDocument = (query: string, operationName: string | null | undefined): DocumentNode | undefined => {
    try {
      const document = parse(query);
      return getOperationAST(document, operationName ?? undefined)?.operation === 'subscription' ? document : undefined;
    } catch {
      return undefined; // the core reports the syntax error
    }
  };

  return {
    name: 'fairness',
    onSubscribe(connection, _id, payload): readonly GraphQLError[] | undefined {
      const rate = limiter.take(connection.userId);
      if (rate) {
        options.refusals?.inc({ code: 'RATE_LIMITED', limit: rate.limit, transport: 'ws' });
        return [rateLimitedError(rate)];
      }
      const document = subscriptionDocument(payload.query, payload.operationName);
      const schema = options.schema();
      if (!document || !schema) return undefined;
      const operation = getOperationAST(document, payload.operationName ?? undefined);
      if (!operation) return undefined;
      const cost = estimateOperationCost({
        schema,
        operation,
        fragments: fragmentsOf(document.definitions),
        variables: payload.variables ?? undefined,
        model: options.model,
      });
      if (cost > options.maxEventCost) {
        options.refusals?.inc({ code: 'COST_LIMIT_EXCEEDED', limit: 'subscriptionEventCost', transport: 'ws' });
        return [costLimitError(cost, options.maxEventCost, 'Subscription event')];
      }
      const max = limiter.limits.maxSubscriptions;
      // Checked here so a refusal costs nothing; counted when the stream opens (onStream).
      if (limiter.activeSubscriptions(connection.userId) >= max) {
        options.refusals?.inc({ code: 'RATE_LIMITED', limit: 'subscriptions', transport: 'ws' });
        return [rateLimitedError({ limit: 'subscriptions', max, retryAfterMs: limiter.limits.concurrencyRetryAfterMs })];
      }
      return undefined;
    },
    onStream(connection, id, stream) {
      const held = limiter.acquireSubscription(connection.userId);
      if (isRefusal(held)) {
        // Another connection of the user opened one in between: end this one, coded.
        const error = rateLimitedError(held);
        stream.end([
          {
            message: error.message,
            extensions: { code: error.extensions.code, limit: held.limit, max: held.max, retryAfterMs: held.retryAfterMs },
          },
        ]);
        return;
      }
      let open = slots.get(connection);
      if (!open) {
        open = new Map();
        slots.set(connection, open);
      }
      open.get(id)?.release();
      open.set(id, held);
    },
    onComplete(connection, id) {
      const open = slots.get(connection);
      open?.get(id)?.release();
      open?.delete(id);
    },
    onClose(connection) {
      for (const slot of slots.get(connection)?.values() ?? []) slot.release();
      slots.delete(connection);
    },
  };
}
