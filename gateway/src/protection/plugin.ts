import type { ApolloServerPlugin } from '@apollo/server';
import type { GatewayContext } from '../subgraph-data-source.js';
import { actualOperationCost, estimateOperationCost, fragmentsOf } from './cost.js';
import { costLimitError, rateLimitedError } from './errors.js';
import type { RefusalCounter } from './metrics.js';
import type { ProtectionOptions } from './options.js';
import { isRefusal, type Slot, type UserLimiter } from './user-limiter.js';

/** Cost figures of one operation, reported in `extensions.cost` when `reportCost` is on. */
export interface CostReport {
  estimated: number;
  /** The same model over the response (real list lengths); absent when nothing ran. */
  actual?: number;
  budget: number;
}

/**
 * Demand control and per-user fairness for queries and mutations (HTTP, and WebSocket through
 * `executeOperation`), in Apollo's `didResolveOperation`: after parsing and validation (the query
 * limits), before @apollo/gateway plans or calls any subgraph. In order:
 * 1. over HTTP, a token from the user's bucket, else RATE_LIMITED (429, `Retry-After`);
 * 2. the static cost estimate, over `maxCost` → COST_LIMIT_EXCEEDED (400);
 * 3. an in-flight slot of the user, else RATE_LIMITED; released when the response is sent.
 * Refused operations never reach the subgraphs, so a refusal takes about as long as validation.
 */
export function protectionPlugin(
  options: ProtectionOptions,
  limiter: UserLimiter,
  refusals?: RefusalCounter,
): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      let slot: Slot | undefined;
      let report: CostReport | undefined;
      return {
        async didResolveOperation({ contextValue, operation, document, schema, request }) {
          // No operation: operationResolutionPlugin answers 400.
          if (!operation) return;
          const { userId } = contextValue;
          const transport = request.http ? 'http' : 'ws';
          // Over WebSocket (`executeOperation`, no `http`) the fairness policy took the token at `subscribe`.
          const rate = request.http ? limiter.take(userId) : undefined;
          if (rate) {
            refusals?.inc({ code: 'RATE_LIMITED', limit: rate.limit, transport });
            throw rateLimitedError(rate);
          }
          const fragments = fragmentsOf(document.definitions);
          const estimated = estimateOperationCost({ schema, operation, fragments, variables: request.variables, model: options.model });
          if (options.reportCost) report = { estimated, budget: options.maxCost };
          if (estimated > options.maxCost) {
            refusals?.inc({ code: 'COST_LIMIT_EXCEEDED', limit: 'cost', transport });
            throw costLimitError(estimated, options.maxCost);
          }
          const held = limiter.acquire(userId);
          if (isRefusal(held)) {
            refusals?.inc({ code: 'RATE_LIMITED', limit: held.limit, transport });
            throw rateLimitedError(held);
          }
          slot = held;
        },
        async willSendResponse({ response, operation, document, schema }) {
          slot?.release();
          slot = undefined;
          if (!report || response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          if (operation && result.data) {
            const input = { schema, operation, fragments: fragmentsOf(document?.definitions ?? []), model: options.model };
            report.actual = actualOperationCost(input, result.data);
          }
          result.extensions = { ...result.extensions, cost: report };
        },
      };
    },
  };
}
