import { DELIVERY_STAGES, type DeliveryStage } from '@taskgraph/runtime';
import { type DeliveryLag, deliveryLagDelta, lagQuantileMs, scrapeDeliveryLagOf } from '@taskgraph/testing';
import { fmt } from './stats.js';

/** Per-stage delivery lag of one measured phase (from the services' `delivery_lag_seconds`). */
export interface StageLag {
  stage: DeliveryStage;
  count: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
}

const LABELS: Record<DeliveryStage, string> = {
  consumer: 'consumer',
  sync_push: 'sync push',
  gateway_resolve: 'gateway resolve',
  client_write: 'client write',
};

/** Column header of the per-stage figures, stages in pipeline order. */
export const STAGE_COLUMNS = DELIVERY_STAGES.map((s) => `stage: ${LABELS[s]} p50 / p99 ms`);

/**
 * Starts measuring: scrapes `/metrics` of `serviceUrls` (sync and the gateway) now; the returned
 * function scrapes again and summarises what each stage observed in between. Quantiles come from
 * the histogram buckets (accurate to the bucket bounds: 0.5, 1, 2.5, 5, 10, 25, 50, 100 ms ... 10 s; a
 * quantile past the last bound reads 10,000 ms, meaning at least that).
 */
export async function measureStages(serviceUrls: readonly string[]): Promise<() => Promise<StageLag[]>> {
  const before: DeliveryLag = await scrapeDeliveryLagOf(serviceUrls);
  return async () => {
    const delta = deliveryLagDelta(before, await scrapeDeliveryLagOf(serviceUrls));
    return DELIVERY_STAGES.map((stage) => {
      const h = delta[stage];
      const count = h?.count ?? 0;
      return {
        stage,
        count,
        p50Ms: lagQuantileMs(h, 0.5),
        p99Ms: lagQuantileMs(h, 0.99),
        meanMs: count > 0 ? ((h?.sum ?? 0) / count) * 1000 : Number.NaN,
      };
    });
  };
}

/** The table cells of `stages`, in `STAGE_COLUMNS` order. */
export const stageCells = (stages: readonly StageLag[] | undefined): string[] =>
  DELIVERY_STAGES.map((stage) => {
    const s = stages?.find((x) => x.stage === stage);
    return s && s.count > 0 ? `${fmt(s.p50Ms)} / ${fmt(s.p99Ms)}` : 'n/a';
  });

/** One line for the console: `consumer 1.2/4.8 · sync push ...`. */
export const stageLine = (stages: readonly StageLag[]): string =>
  stages.map((s) => `${LABELS[s.stage]} ${s.count > 0 ? `${fmt(s.p50Ms)}/${fmt(s.p99Ms)}` : 'n/a'}`).join(' · ');
