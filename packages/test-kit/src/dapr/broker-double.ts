import { sleep } from '@taskgraph/events';
import { daprChildTraceparent } from './trace-context.js';

/** A subscription an app declared in `GET /dapr/subscribe`. */
export interface DiscoveredSubscription {
  pubsubname: string;
  topic: string;
  /** `routes.default` (or the v1 `route`). */
  route: string;
  deadLetterTopic: string | undefined;
}

/** An app attached to the broker (through its sidecar). */
export interface AppRegistration {
  appUrl: string;
  appId: string;
  /** Kafka consumer group: `consumerID` when set, else the app-id (ARCHITECTURE §5). */
  consumerId: string;
  subscriptions: DiscoveredSubscription[];
  /** App API token its sidecar sends in `dapr-api-token` on every delivery (daprd's `APP_API_TOKEN`). */
  appToken?: string;
}

/** A message accepted by the broker. */
export interface BrokerMessage {
  /** Position in its topic. */
  offset: number;
  pubsubName: string;
  topic: string;
  partitionKey: string | undefined;
  eventId: string;
  /** The CloudEvent as delivered: what was published, plus `topic` and `pubsubname` as Dapr adds them. */
  cloudEvent: Record<string, unknown>;
}

export type DeliveryOutcome = 'SUCCESS' | 'RETRY' | 'DROP' | 'ERROR';

/** One delivery attempt to an app. */
export interface DeliveryRecord {
  consumerId: string;
  appId: string;
  appUrl: string;
  route: string;
  topic: string;
  eventId: string;
  partitionKey: string | undefined;
  attempt: number;
  outcome: DeliveryOutcome;
  httpStatus: number | undefined;
  at: number;
}

/** A message a consumer group dropped, routed to the subscription's dead-letter topic. */
export interface DeadLetterRecord {
  consumerId: string;
  topic: string;
  deadLetterTopic: string | undefined;
  eventId: string;
  message: BrokerMessage;
}

export interface BrokerDoubleOptions {
  /** First retry delay of a failed delivery (default 10 ms), doubling up to `retryMaxMs` (default 200 ms). */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Timeout of one delivery request (default 5 s). */
  deliveryTimeoutMs?: number;
}

interface Lane {
  queue: BrokerMessage[];
  running: boolean;
}

interface ConsumerGroup {
  id: string;
  members: AppRegistration[];
  /** `pubsub/topic` this group has joined (it then received the topic from the oldest offset). */
  joined: Set<string>;
  lanes: Map<string, Lane>;
}

const topicKey = (pubsubName: string, topic: string) => `${pubsubName}/${topic}`;

/**
 * In-memory stand-in for Kafka behind Dapr pub/sub (ARCHITECTURE §5): topics are retained logs; each
 * consumer group joins at the oldest offset and gets every message once per group (members of a
 * group share delivery); delivery is in order per partition key, one message at a time per key,
 * retried on RETRY / non-2xx / network errors with a short backoff, dropped on DROP or 404 and
 * then routed to the subscription's dead-letter topic.
 */
export class DaprBrokerDouble {
  readonly deliveries: DeliveryRecord[] = [];
  readonly deadLetters: DeadLetterRecord[] = [];
  private readonly logs = new Map<string, BrokerMessage[]>();
  private readonly groups = new Map<string, ConsumerGroup>();
  private readonly abort = new AbortController();
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private readonly deliveryTimeoutMs: number;

  constructor(options: BrokerDoubleOptions = {}) {
    this.retryInitialMs = options.retryInitialMs ?? 10;
    this.retryMaxMs = options.retryMaxMs ?? 200;
    this.deliveryTimeoutMs = options.deliveryTimeoutMs ?? 5_000;
  }

  /** Messages of a topic (all topics when omitted), in publish order. */
  messages(topic?: string, pubsubName = 'pubsub'): BrokerMessage[] {
    if (topic !== undefined) return [...(this.logs.get(topicKey(pubsubName, topic)) ?? [])];
    return [...this.logs.values()].flat();
  }

  /** Appends to the topic and hands the message to every group that joined it. */
  publish(pubsubName: string, topic: string, partitionKey: string | undefined, cloudEvent: Record<string, unknown>): BrokerMessage {
    const key = topicKey(pubsubName, topic);
    const log = this.logs.get(key) ?? [];
    this.logs.set(key, log);
    const message: BrokerMessage = {
      offset: log.length,
      pubsubName,
      topic,
      partitionKey,
      eventId: String(cloudEvent.id ?? ''),
      cloudEvent: { ...cloudEvent, topic, pubsubname: pubsubName },
    };
    log.push(message);
    for (const group of this.groups.values()) {
      if (group.joined.has(key)) this.enqueue(group, message);
    }
    return message;
  }

  /** Adds an app to its consumer group; a group joining a topic first receives its whole backlog. */
  addApp(app: AppRegistration): void {
    const group = this.groups.get(app.consumerId) ?? { id: app.consumerId, members: [], joined: new Set<string>(), lanes: new Map() };
    this.groups.set(app.consumerId, group);
    group.members = [...group.members.filter((m) => m.appUrl !== app.appUrl), app];
    for (const subscription of app.subscriptions) {
      const key = topicKey(subscription.pubsubname, subscription.topic);
      if (group.joined.has(key)) continue;
      group.joined.add(key);
      for (const message of this.logs.get(key) ?? []) this.enqueue(group, message);
    }
  }

  /** Detaches an app; its group keeps its position (another member, or a re-added app, continues). */
  removeApp(appUrl: string): void {
    for (const group of this.groups.values()) group.members = group.members.filter((m) => m.appUrl !== appUrl);
  }

  /** Delivers the message with this CloudEvent id once more to every group that joined its topic. */
  async redeliver(eventId: string): Promise<void> {
    const message = this.messages().find((m) => m.eventId === eventId);
    if (!message) throw new Error(`no message with id ${eventId}`);
    const key = topicKey(message.pubsubName, message.topic);
    for (const group of this.groups.values()) {
      if (group.joined.has(key)) this.enqueue(group, message);
    }
    await this.idle();
  }

  /** Resolves when no delivery is queued or in flight. */
  async idle(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.pending() > 0) {
      if (Date.now() > deadline) throw new Error(`broker not idle after ${timeoutMs} ms (${this.pending()} pending)`);
      await sleep(5);
    }
  }

  /** Messages queued or in flight across groups. */
  pending(): number {
    let n = 0;
    for (const group of this.groups.values()) for (const lane of group.lanes.values()) n += lane.queue.length;
    return n;
  }

  close(): void {
    this.abort.abort();
  }

  private enqueue(group: ConsumerGroup, message: BrokerMessage): void {
    const laneKey = `${topicKey(message.pubsubName, message.topic)}/${message.partitionKey ?? ''}`;
    const lane = group.lanes.get(laneKey) ?? { queue: [], running: false };
    group.lanes.set(laneKey, lane);
    lane.queue.push(message);
    if (!lane.running) void this.drain(group, lane);
  }

  private async drain(group: ConsumerGroup, lane: Lane): Promise<void> {
    lane.running = true;
    try {
      while (lane.queue.length > 0 && !this.abort.signal.aborted) {
        const message = lane.queue[0]!;
        await this.deliver(group, message);
        lane.queue.shift();
      }
    } finally {
      lane.running = false;
      if (this.abort.signal.aborted) lane.queue.length = 0;
    }
  }

  /** Delivers until the group's app settles it (SUCCESS or DROP/404), retrying otherwise. */
  private async deliver(group: ConsumerGroup, message: BrokerMessage): Promise<void> {
    let delay = this.retryInitialMs;
    for (let attempt = 1; !this.abort.signal.aborted; attempt++) {
      const candidates = group.members.filter((m) =>
        m.subscriptions.some((s) => s.pubsubname === message.pubsubName && s.topic === message.topic),
      );
      const member = candidates.length > 0 ? candidates[(hash(message.partitionKey ?? '') + attempt - 1) % candidates.length] : undefined;
      const subscription = member?.subscriptions.find((s) => s.pubsubname === message.pubsubName && s.topic === message.topic);
      if (member && subscription) {
        const { outcome, httpStatus } = await this.post(member, subscription, message);
        this.deliveries.push({
          consumerId: group.id,
          appId: member.appId,
          appUrl: member.appUrl,
          route: subscription.route,
          topic: message.topic,
          eventId: message.eventId,
          partitionKey: message.partitionKey,
          attempt,
          outcome,
          httpStatus,
          at: Date.now(),
        });
        if (outcome === 'SUCCESS') return;
        if (outcome === 'DROP') {
          this.deadLetter(group, subscription, message);
          return;
        }
      }
      await sleep(delay, this.abort.signal);
      delay = Math.min(delay * 2, this.retryMaxMs);
    }
  }

  private async post(
    app: AppRegistration,
    subscription: DiscoveredSubscription,
    message: BrokerMessage,
  ): Promise<{ outcome: DeliveryOutcome; httpStatus: number | undefined }> {
    try {
      const response = await fetch(`${app.appUrl}${subscription.route}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/cloudevents+json',
          ...appTokenHeader(app.appToken),
          // daprd delivers inside its own span, a child of the CloudEvent's trace context.
          traceparent: daprChildTraceparent(
            typeof message.cloudEvent.traceparent === 'string' ? message.cloudEvent.traceparent : undefined,
          ),
        },
        body: JSON.stringify(message.cloudEvent),
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.deliveryTimeoutMs)]),
      });
      const text = await response.text();
      if (response.status === 404) return { outcome: 'DROP', httpStatus: 404 };
      if (response.status < 200 || response.status >= 300) return { outcome: 'RETRY', httpStatus: response.status };
      let status: unknown;
      try {
        status = text ? (JSON.parse(text) as { status?: unknown }).status : undefined;
      } catch {
        status = undefined;
      }
      // Dapr: 2xx without a status body is SUCCESS; an unknown status is treated as RETRY.
      if (status === undefined || status === '' || status === 'SUCCESS') return { outcome: 'SUCCESS', httpStatus: response.status };
      if (status === 'DROP') return { outcome: 'DROP', httpStatus: response.status };
      return { outcome: 'RETRY', httpStatus: response.status };
    } catch {
      return { outcome: 'ERROR', httpStatus: undefined };
    }
  }

  private deadLetter(group: ConsumerGroup, subscription: DiscoveredSubscription, message: BrokerMessage): void {
    this.deadLetters.push({
      consumerId: group.id,
      topic: message.topic,
      deadLetterTopic: subscription.deadLetterTopic,
      eventId: message.eventId,
      message,
    });
    if (subscription.deadLetterTopic) {
      const { topic: _topic, pubsubname: _pubsub, ...original } = message.cloudEvent;
      this.publish(message.pubsubName, subscription.deadLetterTopic, message.partitionKey, original);
    }
  }
}

/** The `dapr-api-token` header daprd adds to every call to its app when it has an app token. */
export function appTokenHeader(appToken: string | undefined): Record<string, string> {
  return appToken ? { 'dapr-api-token': appToken } : {};
}

function hash(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) | 0;
  return Math.abs(h);
}
