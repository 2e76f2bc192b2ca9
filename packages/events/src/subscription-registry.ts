import { contextFromTraceparent, inSpan, type Link, linkToTraceparent, SpanKind } from '@taskgraph/runtime';
import type { BatchEventHandler, EventHandler, Subscription } from './bus.js';
import type { Topic } from './topics.js';

/**
 * Subscriptions of one bus; one per (group, topic). Each handler runs inside a CONSUMER span of
 * the consuming service that continues the event's trace (its `traceparent`: the outbox row in
 * embedded mode, the CloudEvent extension in Dapr mode; ARCHITECTURE §8). A batch handler runs in
 * one CONSUMER span per batch, linked to every event's context (OpenTelemetry's batch receive) and
 * the child of their trace when all of its events share one.
 */
export class SubscriptionRegistry {
  private readonly list: Subscription[] = [];

  /** `service`: the consuming service (its Dapr app-id), named on every consumer span. */
  constructor(private readonly service: string) {}

  add(subscription: Subscription): void {
    if (this.list.some((s) => s.group === subscription.group && s.topic === subscription.topic)) {
      throw new Error(`group ${subscription.group} already subscribes to ${subscription.topic}`);
    }
    const batchHandler = subscription.batchHandler ? tracedBatch(this.service, subscription, subscription.batchHandler) : undefined;
    this.list.push({ ...subscription, handler: traced(this.service, subscription), ...(batchHandler ? { batchHandler } : {}) });
  }

  all(): readonly Subscription[] {
    return this.list;
  }

  forTopic(topic: string): Subscription[] {
    return this.list.filter((s) => s.topic === topic);
  }

  topics(): Topic[] {
    return [...new Set(this.list.map((s) => s.topic))];
  }
}

function traced(service: string, subscription: Subscription): EventHandler {
  const { handler, group, topic } = subscription;
  const name = `consume ${topic}`;
  return (event, tx) =>
    inSpan(
      service,
      name,
      {
        kind: SpanKind.CONSUMER,
        parent: contextFromTraceparent(event.traceparent),
        attributes: { 'messaging.consumer.group.name': group, 'messaging.destination.name': topic, 'messaging.message.id': event.id },
      },
      async (span) => {
        const result = await handler(event, tx);
        span.setAttribute('taskgraph.handler.status', result.status);
        return result;
      },
    );
}

/** At most this many links on a batch span (a batch is at most a few hundred events). */
const MAX_LINKS = 128;

function tracedBatch(service: string, subscription: Subscription, batchHandler: BatchEventHandler): BatchEventHandler {
  const { group, topic } = subscription;
  const name = `consume ${topic}`;
  return (events, tx) => {
    const parents = new Set(events.map((e) => e.traceparent ?? ''));
    const links = events
      .slice(0, MAX_LINKS)
      .map((e) => linkToTraceparent(e.traceparent))
      .filter((l): l is Link => l !== undefined);
    return inSpan(
      service,
      name,
      {
        kind: SpanKind.CONSUMER,
        parent: contextFromTraceparent(parents.size === 1 ? events[0]?.traceparent : undefined),
        links,
        attributes: {
          'messaging.consumer.group.name': group,
          'messaging.destination.name': topic,
          'messaging.batch.message_count': events.length,
        },
      },
      async (span) => {
        const handled = await batchHandler(events, tx);
        span.setAttribute('taskgraph.handler.handled', handled.size);
        return handled;
      },
    );
  };
}
