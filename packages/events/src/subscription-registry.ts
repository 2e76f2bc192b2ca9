import { contextFromTraceparent, inSpan, SpanKind } from '@taskgraph/runtime';
import type { EventHandler, Subscription } from './bus.js';
import type { Topic } from './topics.js';

/**
 * Subscriptions of one bus; one per (group, topic). Each handler runs inside a CONSUMER span of
 * the consuming service that continues the event's trace (its `traceparent`: the outbox row in
 * embedded mode, the CloudEvent extension in Dapr mode; ARCHITECTURE §8).
 */
export class SubscriptionRegistry {
  private readonly list: Subscription[] = [];

  /** `service`: the consuming service (its Dapr app-id), named on every consumer span. */
  constructor(private readonly service: string) {}

  add(subscription: Subscription): void {
    if (this.list.some((s) => s.group === subscription.group && s.topic === subscription.topic)) {
      throw new Error(`group ${subscription.group} already subscribes to ${subscription.topic}`);
    }
    this.list.push({ ...subscription, handler: traced(this.service, subscription) });
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
