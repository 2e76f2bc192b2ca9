import type { DeliveryStage } from '@taskgraph/runtime';

/** One stage's `delivery_lag_seconds` histogram as scraped: cumulative bucket counts by upper bound. */
export interface StageHistogram {
  count: number;
  /** Seconds. */
  sum: number;
  /** `[le, cumulative count]`, ascending; the last bound is `Infinity`. */
  buckets: [number, number][];
}

export type DeliveryLag = Partial<Record<DeliveryStage, StageHistogram>>;

const SAMPLE = /^delivery_lag_seconds_(bucket|sum|count)\{([^}]*)\}\s+(\S+)$/;
const label = (labels: string, name: string) => new RegExp(`(?:^|,)${name}="([^"]*)"`).exec(labels)?.[1];

/** Parses `delivery_lag_seconds` out of a Prometheus text exposition. */
export function parseDeliveryLag(text: string): DeliveryLag {
  const stages: DeliveryLag = {};
  for (const line of text.split('\n')) {
    const m = SAMPLE.exec(line.trim());
    if (!m) continue;
    const [, kind, labels, raw] = m as unknown as [string, string, string, string];
    const stage = label(labels, 'stage') as DeliveryStage | undefined;
    if (!stage) continue;
    const h = stages[stage] ?? { count: 0, sum: 0, buckets: [] };
    stages[stage] = h;
    const value = Number(raw);
    if (kind === 'count') h.count = value;
    else if (kind === 'sum') h.sum = value;
    else {
      const le = label(labels, 'le');
      h.buckets.push([le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), value]);
    }
  }
  for (const h of Object.values(stages)) h.buckets.sort((a, b) => a[0] - b[0]);
  return stages;
}

/** The stages a service observed so far, from its `/metrics` (same origin as its GraphQL URL). */
export async function scrapeDeliveryLag(serviceUrl: string): Promise<DeliveryLag> {
  const res = await fetch(new URL('/metrics', serviceUrl));
  if (!res.ok) throw new Error(`GET /metrics of ${serviceUrl}: ${res.status}`);
  return parseDeliveryLag(await res.text());
}

/** Scrapes several services (each observes its own stages) into one view. */
export async function scrapeDeliveryLagOf(serviceUrls: readonly string[]): Promise<DeliveryLag> {
  const all = await Promise.all(serviceUrls.map(scrapeDeliveryLag));
  return Object.assign({}, ...all.map((s) => Object.fromEntries(Object.entries(s).filter(([, h]) => h.count > 0))));
}

/** What was observed between two scrapes (`after − before`, per stage and bucket). */
export function deliveryLagDelta(before: DeliveryLag, after: DeliveryLag): DeliveryLag {
  const delta: DeliveryLag = {};
  for (const [stage, h] of Object.entries(after) as [DeliveryStage, StageHistogram][]) {
    const b = before[stage];
    const bucketsBefore = new Map(b?.buckets ?? []);
    delta[stage] = {
      count: h.count - (b?.count ?? 0),
      sum: h.sum - (b?.sum ?? 0),
      buckets: h.buckets.map(([le, n]) => [le, n - (bucketsBefore.get(le) ?? 0)]),
    };
  }
  return delta;
}

/**
 * The `q` quantile (0..1) in milliseconds, interpolated linearly inside its bucket as Prometheus's
 * `histogram_quantile` does; NaN without observations. Accurate to the bucket bounds only.
 */
export function lagQuantileMs(h: StageHistogram | undefined, q: number): number {
  if (!h || h.count <= 0) return Number.NaN;
  const rank = q * h.count;
  let lower = 0;
  let below = 0;
  for (const [le, cumulative] of h.buckets) {
    if (cumulative >= rank) {
      if (le === Number.POSITIVE_INFINITY) return lower * 1000;
      const inBucket = cumulative - below;
      return (lower + (inBucket > 0 ? ((rank - below) / inBucket) * (le - lower) : 0)) * 1000;
    }
    lower = le;
    below = cumulative;
  }
  return lower * 1000;
}
