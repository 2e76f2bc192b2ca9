import type { HttpRoute } from '@taskgraph/runtime';
import { DEFAULT_BACKOFF } from './backoff.js';
import type { EventBus, Subscription } from './bus.js';
import { busRetentionMsFromEnv, startBusRetention } from './bus-retention-runner.js';
import { EmbeddedConsumer } from './embedded-consumer.js';
import type { EventBusOptions } from './event-bus-options.js';
import { LogHorizon } from './log-horizon.js';
import { OUTBOX_CHANNEL } from './outbox.js';
import { NotificationListener } from './pg-listener.js';
import { SubscriptionRegistry } from './subscription-registry.js';
import { executeSql } from './tx-sql.js';

/** Embedded adapter (ARCHITECTURE §3): the outbox is the log; consumers wake on NOTIFY `bus_outbox`. */
export class EmbeddedEventBus implements EventBus {
  readonly mode = 'embedded' as const;
  private readonly subscriptions: SubscriptionRegistry;
  private consumers: EmbeddedConsumer[] = [];
  private listener: NotificationListener | undefined;
  private retention: { close(): Promise<void> } | undefined;
  private started = false;

  constructor(private readonly options: EventBusOptions) {
    this.subscriptions = new SubscriptionRegistry(options.appId);
  }

  subscribe(subscription: Subscription): void {
    if (this.started) throw new Error('subscribe() must be called before start()');
    this.subscriptions.add(subscription);
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const { db, logger, metrics } = this.options;
    const horizon = new LogHorizon(db);
    this.consumers = this.subscriptions.all().map(
      (subscription) =>
        new EmbeddedConsumer(subscription, {
          db,
          logger: logger.child({ group: subscription.group, topic: subscription.topic }),
          metrics,
          backoff: this.options.backoff ?? DEFAULT_BACKOFF,
          batchSize: this.options.batchSize ?? 100,
          maxBatch: Math.max(1, subscription.maxBatch ?? this.options.consumerBatch ?? 100),
          maxBatchMs: this.options.consumerBatchMs ?? 20,
          horizon,
        }),
    );
    this.retention = startBusRetention({
      db,
      logger,
      mode: 'embedded',
      retentionMs: this.options.retentionMs ?? busRetentionMsFromEnv(),
      intervalMs: this.options.pruneIntervalMs,
      groups: this.consumers.map((c) => ({ group: c.subscription.group, topic: c.subscription.topic })),
    });
    if (this.consumers.length === 0) return;
    const wakeAll = () => {
      for (const consumer of this.consumers) consumer.wake();
    };
    this.listener = new NotificationListener({
      url: db.url,
      channels: [OUTBOX_CHANNEL],
      logger,
      onNotify: wakeAll,
      onResync: wakeAll,
      safetyCheckMs: this.options.safetyCheckMs,
    });
    await this.listener.start();
    for (const consumer of this.consumers) await consumer.start();
  }

  routes(): HttpRoute[] {
    return [];
  }

  async lag(): Promise<Record<string, number>> {
    const lag: Record<string, number> = {};
    for (const consumer of this.consumers) {
      const { group } = consumer.subscription;
      lag[group] = (lag[group] ?? 0) + (await consumer.lag());
    }
    for (const [group, value] of Object.entries(lag)) this.options.metrics.consumerLag.set({ group }, value);
    return lag;
  }

  async ready(): Promise<boolean> {
    try {
      await executeSql(this.options.db.fork(), 'select 1 from bus.outbox limit 1');
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.retention?.close();
    await Promise.all(this.consumers.map((c) => c.close()));
    await this.listener?.close();
  }
}
