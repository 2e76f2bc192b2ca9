import { type CostModel, DEFAULT_COST_MODEL } from './cost-model.js';
import type { FairnessLimits } from './user-limiter.js';

/**
 * API protection of the gateway (ARCHITECTURE §6): demand control and per-user fairness. Every value
 * is documented with its error code in the README's "Limits" table.
 */
export interface ProtectionOptions extends FairnessLimits {
  /** Largest estimated cost of a query or mutation; more is refused with COST_LIMIT_EXCEEDED. */
  maxCost: number;
  /** Largest estimated cost of one event of a subscription (its selection set, costed once). */
  maxSubscriptionEventCost: number;
  /** Add `extensions.cost` `{ estimated, actual, budget }` to responses (default: development only). */
  reportCost: boolean;
  model: CostModel;
}

/**
 * Production defaults. `maxCost` 25 000 admits every operation of `@taskgraph/client` at its largest
 * page (≤ 2 600) and a page of 100 tasks each with a 10-entry history and its changes (≈ 21 800),
 * and refuses pages of pages: `auditLog(first: 100) { … task { history(first: 100) { … changes } } }`
 * costs ≈ 180 000, the issue's 20 aliases of it ≈ 3.6·10⁶. 20 operations/s per user sustained with
 * bursts of 60 cover a page load plus typing; 8 in flight per user leave the subgraphs' pools to
 * everyone else.
 */
export const DEFAULT_PROTECTION: ProtectionOptions = {
  maxCost: 25_000,
  maxSubscriptionEventCost: 1_000,
  reportCost: false,
  ratePerSecond: 20,
  burst: 60,
  maxInFlight: 8,
  maxSubscriptions: 100,
  concurrencyRetryAfterMs: 250,
  model: DEFAULT_COST_MODEL,
};

/**
 * Fairness limits loose enough that the test suite's and benchmarks' own load (one user, many
 * parallel requests) is never refused; demand control stays as in production. Tests of the limits
 * set their own values.
 */
export const TEST_FAIRNESS: Pick<ProtectionOptions, 'ratePerSecond' | 'burst' | 'maxInFlight' | 'maxSubscriptions'> = {
  ratePerSecond: 100_000,
  burst: 100_000,
  maxInFlight: 10_000,
  maxSubscriptions: 100_000,
};
