import type { Metrics } from '@taskgraph/runtime';
import { Counter } from 'prom-client';

/** Operations refused by demand control or a per-user limit, by code and limit (`/metrics`). */
export type RefusalCounter = Counter<'code' | 'limit' | 'transport'>;

/** Registers `gateway_refusals_total{code,limit,transport}` on the gateway's registry (once per registry). */
export function refusalCounter(metrics: Metrics): RefusalCounter {
  const existing = metrics.registry.getSingleMetric('gateway_refusals_total');
  if (existing) return existing as RefusalCounter;
  return new Counter({
    name: 'gateway_refusals_total',
    help: 'Operations refused before running: COST_LIMIT_EXCEEDED or RATE_LIMITED, by limit and transport',
    labelNames: ['code', 'limit', 'transport'],
    registers: [metrics.registry],
  });
}
