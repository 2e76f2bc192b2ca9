import { createMetrics } from '@taskgraph/runtime';
import { deliveryLagDelta, lagQuantileMs, parseDeliveryLag } from './delivery-lag.js';

describe('delivery lag scraping', () => {
  it('reads the histograms prom-client exposes, per stage, and interpolates quantiles inside buckets', async () => {
    const metrics = createMetrics('lag-test');
    const before = parseDeliveryLag(await metrics.registry.metrics());
    expect(before).toEqual({});
    // 100 observations in (0.001, 0.0025] and 1 in (0.5, 1]: p50 inside the first, max inside the last.
    for (let i = 0; i < 100; i++) metrics.deliveryLag.observe({ stage: 'consumer' }, 0.002);
    metrics.deliveryLag.observe({ stage: 'consumer' }, 0.75);
    metrics.deliveryLag.observe({ stage: 'client_write' }, 0);
    const after = parseDeliveryLag(await metrics.registry.metrics());
    expect(after.consumer?.count).toBe(101);
    expect(after.consumer?.sum).toBeCloseTo(0.95, 6);
    expect(after.client_write?.count).toBe(1);
    expect(after.sync_push).toBeUndefined();
    const p50 = lagQuantileMs(after.consumer, 0.5);
    expect(p50).toBeGreaterThan(1);
    expect(p50).toBeLessThanOrEqual(2.5);
    expect(lagQuantileMs(after.consumer, 1)).toBeGreaterThan(500);
    expect(lagQuantileMs(after.sync_push, 0.5)).toBeNaN();

    metrics.deliveryLag.observe({ stage: 'consumer' }, 0.04);
    const delta = deliveryLagDelta(after, parseDeliveryLag(await metrics.registry.metrics()));
    expect(delta.consumer?.count).toBe(1);
    const only = lagQuantileMs(delta.consumer, 0.5);
    expect(only).toBeGreaterThan(25);
    expect(only).toBeLessThanOrEqual(50);
  });
});
