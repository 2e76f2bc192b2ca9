import type { Subscription } from './bus.js';
import type { Topic } from './topics.js';

/** Subscriptions of one bus; one per (group, topic). */
export class SubscriptionRegistry {
  private readonly list: Subscription[] = [];

  add(subscription: Subscription): void {
    if (this.list.some((s) => s.group === subscription.group && s.topic === subscription.topic)) {
      throw new Error(`group ${subscription.group} already subscribes to ${subscription.topic}`);
    }
    this.list.push(subscription);
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
