import { type HttpRoute, sendJson } from '@taskgraph/runtime';
import { DEFAULT_BACKOFF } from './backoff.js';
import type { EventBus, Subscription } from './bus.js';
import { busRetentionMsFromEnv, startBusRetention } from './bus-retention-runner.js';
import { requireDaprAppToken } from './dapr-app-token.js';
import { publishBulkToDapr } from './dapr-bulk-publisher.js';
import { handleDelivery } from './dapr-delivery.js';
import { daprReachable, requireDapr } from './dapr-http.js';
import { publishToDapr } from './dapr-publisher.js';
import type { DaprSidecarConfig, EventBusOptions } from './event-bus-options.js';
import { LogHorizon } from './log-horizon.js';
import { OUTBOX_CHANNEL } from './outbox.js';
import { OutboxRelay } from './outbox-relay.js';
import type { OutboxRow } from './outbox-row.js';
import { NotificationListener } from './pg-listener.js';
import { SubscriptionRegistry } from './subscription-registry.js';
import { deadLetterTopic, type Topic } from './topics.js';
import { executeSql } from './tx-sql.js';

/** Path Dapr delivers a topic's events to. */
export const eventRoute = (topic: string): string => `/events/${topic}`;

/** One entry of the `GET /dapr/subscribe` answer (ARCHITECTURE §5). */
export interface DaprSubscriptionEntry {
  pubsubname: string;
  topic: string;
  routes: { default: string };
  deadLetterTopic: string;
  metadata: Record<string, string>;
}

/**
 * Dapr adapter (ARCHITECTURE §3/§5): the relay publishes the outbox through the sidecar; consumers are
 * Dapr subscriptions served by this service's own HTTP routes (not `DaprServer`, which waits 30 s
 * for a sidecar and acks thrown errors as SUCCESS).
 */
export class DaprEventBus implements EventBus {
  readonly mode = 'dapr' as const;
  private readonly dapr: DaprSidecarConfig;
  private readonly subscriptions: SubscriptionRegistry;
  private relay: OutboxRelay | undefined;
  private listener: NotificationListener | undefined;
  private retention: { close(): Promise<void> } | undefined;
  private closed = false;

  constructor(private readonly options: EventBusOptions) {
    this.dapr = requireDapr(options.dapr);
    this.subscriptions = new SubscriptionRegistry(options.appId);
  }

  subscribe(subscription: Subscription): void {
    this.subscriptions.add(subscription);
  }

  /** True while this process is the active outbox relay. */
  get relayActive(): boolean {
    return this.relay?.active ?? false;
  }

  /** The `GET /dapr/subscribe` answer: one entry per subscribed topic. */
  daprSubscriptions(): DaprSubscriptionEntry[] {
    return this.subscriptions.topics().map((topic) => ({
      pubsubname: this.dapr.pubsubName,
      topic,
      routes: { default: eventRoute(topic) },
      deadLetterTopic: deadLetterTopic(topic),
      metadata: {},
    }));
  }

  async start(): Promise<void> {
    const { db, logger, metrics } = this.options;
    this.retention ??= startBusRetention({
      db,
      logger,
      mode: 'dapr',
      retentionMs: this.options.retentionMs ?? busRetentionMsFromEnv(),
      intervalMs: this.options.pruneIntervalMs,
      groups: [],
    });
    if (!this.options.relay || this.relay) return;
    const publishTimeoutMs = this.options.publishTimeoutMs ?? 10_000;
    const relay = new OutboxRelay({
      url: db.url,
      logger: logger.child({ component: 'outbox-relay' }),
      metrics,
      publish: (row, signal) => publishToDapr(this.dapr, row, publishTimeoutMs, signal),
      ...(this.options.bulkPublish === false
        ? {}
        : {
            publishBulk: (topic: string, rows: OutboxRow[], signal: AbortSignal) =>
              publishBulkToDapr(this.dapr, topic, rows, publishTimeoutMs, signal),
          }),
      horizon: new LogHorizon(db),
      backoff: this.options.backoff ?? DEFAULT_BACKOFF,
      // Rows per read: five bulk requests of 100, or 500 publishes by key, per horizon check and update.
      batchSize: this.options.batchSize ?? 500,
      standbyMs: this.options.relayStandbyMs ?? 5_000,
    });
    this.listener = new NotificationListener({
      url: db.url,
      channels: [OUTBOX_CHANNEL],
      logger,
      onNotify: () => relay.wake(),
      onResync: () => relay.wake(),
      safetyCheckMs: this.options.safetyCheckMs,
    });
    await this.listener.start();
    this.relay = relay;
    relay.start();
  }

  /** `GET /dapr/subscribe` and `POST /events/<topic>`, behind the app token when `dapr.appToken` is set. */
  routes(): HttpRoute[] {
    return requireDaprAppToken(this.unguardedRoutes(), this.dapr.appToken);
  }

  private unguardedRoutes(): HttpRoute[] {
    return [
      {
        method: 'GET',
        path: '/dapr/subscribe',
        handle: (_request, res) => sendJson(res, 200, this.daprSubscriptions()),
      },
      {
        method: 'POST',
        path: /^\/events\/([^/]+)$/,
        handle: async (request, res) => {
          const topic = request.params[0] ?? '';
          const subscriptions = this.subscriptions.forTopic(topic);
          if (subscriptions.length === 0) {
            // 404 tells Dapr to drop: nobody here consumes this topic.
            sendJson(res, 404, { error: `no subscription for topic ${topic}` });
            return;
          }
          if (this.closed) {
            sendJson(res, 200, { status: 'RETRY' });
            return;
          }
          const status = await handleDelivery(this.options, topic as Topic, subscriptions, request.body).catch((error) => {
            this.options.logger.error({ err: error, topic }, 'delivery failed');
            return 'RETRY' as const;
          });
          sendJson(res, 200, { status });
        },
      },
    ];
  }

  /** Dapr tracks consumer lag in Kafka; what this process sees is the relay backlog (unpublished rows). */
  async lag(): Promise<Record<string, number>> {
    if (!this.options.relay) return {};
    const { rows } = await executeSql<{ n: string }>(
      this.options.db.fork(),
      'select count(*) as n from bus.outbox where published_at is null',
    );
    return { 'outbox-relay': Number(rows[0]?.n ?? 0) };
  }

  async ready(): Promise<boolean> {
    try {
      await executeSql(this.options.db.fork(), 'select 1 from bus.outbox limit 1');
    } catch {
      return false;
    }
    return daprReachable(this.dapr);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.retention?.close();
    await this.relay?.close();
    await this.listener?.close();
  }
}
