/** One entry as daprd reads it from a bulk publish request. */
interface BulkEntry {
  entryId: string;
  event: unknown;
  contentType: string;
  metadata: Record<string, string>;
}

/** How daprd answers a bulk publish: status and JSON body (none for 204). */
export interface BulkAnswer {
  status: number;
  body?: unknown;
}

/** What the sidecar double lends its bulk endpoint. */
export interface BulkPublishTarget {
  pubsubName: string;
  appId: string;
  /** Publishes one CloudEvent to the broker (what a single publish does after its checks). */
  publish(topic: string, partitionKey: string | undefined, cloudEvent: Record<string, unknown>): void;
  /** True when this entry must fail (the double's failure switches). */
  fails(entryId: string): boolean;
}

/**
 * `POST /v1.0-alpha1/publish/bulk/{pubsub}/{topic}` as daprd serves it (pub/sub API reference,
 * "Publish multiple messages"): the body is a JSON array of `{ entryId, event, contentType,
 * metadata }`; entry ids must be present and unique (else 400, nothing published); an entry with
 * `application/cloudevents+json` passes through as the CloudEvent, others are wrapped in Dapr's
 * own; the entry's `metadata.partitionKey` keys the message. Non-transactional: 204 when every
 * entry was published, else 500 `{ failedEntries: [{ entryId, error }], errorCode:
 * "ERR_PUBSUB_PUBLISH_MESSAGE" }` while the other entries were published.
 */
export function bulkPublish(target: BulkPublishTarget, pubsubName: string, topic: string, body: unknown): BulkAnswer {
  if (pubsubName !== target.pubsubName)
    return { status: 400, body: { errorCode: 'ERR_PUBSUB_NOT_FOUND', message: `pubsub ${pubsubName} not found` } };
  const entries = parseEntries(body);
  if (typeof entries === 'string') return { status: 400, body: { errorCode: 'ERR_PUBSUB_EVENTS_SER', message: entries } };
  const failedEntries: { entryId: string; error: string }[] = [];
  for (const entry of entries) {
    if (target.fails(entry.entryId)) {
      failedEntries.push({ entryId: entry.entryId, error: 'double: failing on purpose' });
      continue;
    }
    target.publish(topic, entry.metadata.partitionKey, cloudEventOf(target, entry));
  }
  if (failedEntries.length === 0) return { status: 204 };
  return { status: 500, body: { failedEntries, errorCode: 'ERR_PUBSUB_PUBLISH_MESSAGE' } };
}

function parseEntries(body: unknown): BulkEntry[] | string {
  if (!Array.isArray(body)) return 'body is not a JSON array of entries';
  const seen = new Set<string>();
  const entries: BulkEntry[] = [];
  for (const raw of body as unknown[]) {
    const entry = raw as Partial<BulkEntry> | null;
    if (!entry || typeof entry !== 'object' || typeof entry.entryId !== 'string' || entry.entryId === '') return 'entryId is required';
    if (seen.has(entry.entryId)) return `entryId ${entry.entryId} is duplicated`;
    seen.add(entry.entryId);
    if (typeof entry.contentType !== 'string' || entry.contentType === '') return `entry ${entry.entryId}: contentType is required`;
    if (
      entry.contentType === 'application/cloudevents+json' &&
      (entry.event === null || typeof entry.event !== 'object' || Array.isArray(entry.event))
    )
      return `entry ${entry.entryId}: event is not a CloudEvent`;
    entries.push({ entryId: entry.entryId, event: entry.event, contentType: entry.contentType, metadata: { ...(entry.metadata ?? {}) } });
  }
  return entries;
}

function cloudEventOf(target: BulkPublishTarget, entry: BulkEntry): Record<string, unknown> {
  if (entry.contentType === 'application/cloudevents+json') return { ...(entry.event as Record<string, unknown>) };
  // Dapr wraps non-CloudEvent payloads in its own CloudEvent.
  return {
    specversion: '1.0',
    id: crypto.randomUUID(),
    source: target.appId,
    type: 'com.dapr.event.sent',
    datacontenttype: entry.contentType,
    data: entry.event,
  };
}
