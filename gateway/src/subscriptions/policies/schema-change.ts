import type { Logger } from '@taskgraph/runtime';
import { SubscriptionPlanner } from '../planner.js';
import type { SubscriptionPolicy } from './policy.js';

/** Subscribes to the gateway's supergraph; returns the unsubscribe function. */
export type OnSchemaChange = (listener: (schema: { readonly supergraphSdl: string }) => void) => () => void;

/** The planner subscriptions are planned with now, and its generation (part of every pipeline key). */
export interface SchemaChangePolicy extends SubscriptionPolicy {
  readonly planner: SubscriptionPlanner | undefined;
  /** Increments with every new planner, so pipelines of an older schema are never shared with newer ones. */
  readonly generation: number;
}

/**
 * Follows the gateway's supergraph: a new SDL builds a new planner (plan cache included) and a new
 * generation; running subscriptions keep the plan they started with. A supergraph the planner
 * rejects is logged and the previous planner kept.
 */
export function schemaChangePolicy(onSchemaChange: OnSchemaChange, options: { planCacheSize: number; logger: Logger }): SchemaChangePolicy {
  let planner: SubscriptionPlanner | undefined;
  let generation = 0;
  const stop = onSchemaChange(({ supergraphSdl }) => {
    if (planner?.supergraphSdl === supergraphSdl) return;
    try {
      planner = new SubscriptionPlanner(supergraphSdl, options.planCacheSize);
      generation++;
    } catch (error) {
      options.logger.error({ err: error }, 'cannot plan subscriptions against the new supergraph; keeping the previous one');
    }
  });
  return {
    name: 'schema-change',
    get planner() {
      return planner;
    },
    get generation() {
      return generation;
    },
    close: stop,
  };
}
