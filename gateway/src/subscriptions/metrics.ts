import type { Metrics } from '@taskgraph/runtime';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Prometheus metrics of the subscription server (ARCHITECTURE §8), on the gateway's registry. */
export interface SubscriptionMetrics {
  /** `subscriptions_open`: client subscriptions being served (the runtime's shared gauge). */
  readonly subscriptions: Gauge;
  readonly connections: Gauge;
  readonly pipelines: Gauge;
  /** Upstream graphql-ws subscriptions to subgraphs (shared ones count once). */
  readonly upstreams: Gauge;
  readonly upstreamConnections: Gauge;
  readonly eventsReceived: Counter;
  readonly resultsSent: Counter;
  readonly slowConsumers: Counter;
  /** Upstream event received → client result ready (entity fetches included). */
  readonly eventSeconds: Histogram;
  /** The runtime's `delivery_lag_seconds`: this process observes `gateway_resolve` and `client_write`. */
  readonly deliveryLag: Histogram<'stage'>;
}

function metric<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

export function createSubscriptionMetrics(metrics: Metrics): SubscriptionMetrics {
  const registers = [metrics.registry];
  const r = metrics.registry;
  return {
    subscriptions: metrics.subscriptionsOpen,
    deliveryLag: metrics.deliveryLag,
    connections: metric(
      r,
      'subscription_connections_open',
      () => new Gauge({ name: 'subscription_connections_open', help: 'Open graphql-ws connections', registers }),
    ),
    pipelines: metric(
      r,
      'subscription_pipelines_open',
      () =>
        new Gauge({
          name: 'subscription_pipelines_open',
          help: 'Distinct client subscriptions being resolved (shared by identical ones)',
          registers,
        }),
    ),
    upstreams: metric(
      r,
      'subscription_upstreams_open',
      () => new Gauge({ name: 'subscription_upstreams_open', help: 'Open upstream subscriptions to subgraphs', registers }),
    ),
    upstreamConnections: metric(
      r,
      'subscription_upstream_connections_open',
      () => new Gauge({ name: 'subscription_upstream_connections_open', help: 'Open graphql-ws connections to subgraphs', registers }),
    ),
    eventsReceived: metric(
      r,
      'subscription_events_received_total',
      () =>
        new Counter({
          name: 'subscription_events_received_total',
          help: 'Events received from subgraph subscriptions, per pipeline',
          registers,
        }),
    ),
    resultsSent: metric(
      r,
      'subscription_results_queued_total',
      () => new Counter({ name: 'subscription_results_queued_total', help: 'Results queued to client subscriptions', registers }),
    ),
    slowConsumers: metric(
      r,
      'subscription_slow_consumers_closed_total',
      () =>
        new Counter({
          name: 'subscription_slow_consumers_closed_total',
          help: 'Connections closed because a subscription buffer overflowed',
          registers,
        }),
    ),
    eventSeconds: metric(
      r,
      'subscription_event_duration_seconds',
      () =>
        new Histogram({
          name: 'subscription_event_duration_seconds',
          help: 'Upstream event received to client result ready (entity fetches included)',
          buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
          registers,
        }),
    ),
  };
}
