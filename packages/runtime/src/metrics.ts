import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** A service's Prometheus registry with the metrics every service exposes (ARCHITECTURE §8). */
export interface Metrics {
  readonly registry: Registry;
  readonly httpDuration: Histogram<'route' | 'method' | 'status'>;
  readonly eventsPublished: Counter<'topic'>;
  readonly eventsConsumed: Counter<'topic' | 'group' | 'status'>;
  readonly consumerLag: Gauge<'group'>;
  readonly subscriptionsOpen: Gauge;
  /** SQL statements sent by this service (N+1 checks, benchmarks). */
  readonly dbQueries: Counter;
  /** `delivery_lag_seconds{stage}`: time a live update spends in each stage of its way to a subscriber (`DeliveryStage`). */
  readonly deliveryLag: Histogram<'stage'>;
}

/**
 * The stages of a live update, in order; each is observed by the process that runs it, so the
 * slowest stage (the next bottleneck) shows in `delivery_lag_seconds{stage}` and in
 * `npm run bench -- realtime`:
 * - `consumer` (sync): the event occurred (the mutation's transaction) → sync's consumer stored it;
 * - `sync_push` (sync): stored → handed to a live subscription's graphql-ws stream (queue wait);
 * - `gateway_resolve` (gateway): upstream event received → client result ready (entity fetches);
 * - `client_write` (gateway): result ready → written to its subscribers' sockets (once per result and
 *   shared pipeline; includes waiting for a full client connection).
 */
export const DELIVERY_STAGES = ['consumer', 'sync_push', 'gateway_resolve', 'client_write'] as const;
export type DeliveryStage = (typeof DELIVERY_STAGES)[number];

export function createMetrics(service: string): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency',
      labelNames: ['route', 'method', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    eventsPublished: new Counter({
      name: 'events_published_total',
      help: 'Events published',
      labelNames: ['topic'],
      registers: [registry],
    }),
    eventsConsumed: new Counter({
      name: 'events_consumed_total',
      help: 'Events handled by consumers, by outcome',
      labelNames: ['topic', 'group', 'status'],
      registers: [registry],
    }),
    consumerLag: new Gauge({
      name: 'consumer_lag_events',
      help: 'Events behind the log head',
      labelNames: ['group'],
      registers: [registry],
    }),
    subscriptionsOpen: new Gauge({ name: 'subscriptions_open', help: 'Open GraphQL subscriptions', registers: [registry] }),
    dbQueries: new Counter({ name: 'db_queries_total', help: 'SQL statements sent', registers: [registry] }),
    deliveryLag: new Histogram({
      name: 'delivery_lag_seconds',
      help: 'Time a live update spends in each delivery stage (consumer, sync_push, gateway_resolve, client_write)',
      labelNames: ['stage'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
}
