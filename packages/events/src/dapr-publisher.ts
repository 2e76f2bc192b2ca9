import { contextFromTraceparent, inSpan, SpanKind, traceHeaders } from '@taskgraph/runtime';
import { callDapr } from './dapr-http.js';
import { serviceOfSource, toCloudEvent } from './envelope.js';
import type { DaprSidecarConfig } from './event-bus-options.js';
import { type OutboxRow, rowToOutboxEvent } from './outbox-row.js';

/**
 * Publishes one outbox row through the sidecar's HTTP API (ARCHITECTURE §5):
 * `POST /v1.0/publish/{pubsub}/{topic}?metadata.partitionKey=<taskId>` with our own CloudEvent
 * (`application/cloudevents+json`, id = eventId) so Dapr passes it through unwrapped.
 *
 * Plain `fetch` rather than `@dapr/dapr`: the SDK waits ~30 s for a missing sidecar and then
 * returns `{ error }` instead of throwing (docs/ARCHITECTURE.md §9); here any non-2xx or network error rejects.
 */
export async function publishToDapr(config: DaprSidecarConfig, row: OutboxRow, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const event = rowToOutboxEvent(row);
  // A PRODUCER span continuing the row's trace; its context goes to daprd as the `traceparent`
  // header, which daprd puts into the CloudEvent it hands to Kafka (replacing ours) and every delivery.
  const service = serviceOfSource(event.source);
  const attributes = { 'messaging.destination.name': event.topic, 'messaging.message.id': event.id };
  await inSpan(
    service,
    `publish ${event.topic}`,
    { kind: SpanKind.PRODUCER, parent: contextFromTraceparent(event.traceparent), attributes },
    () => send(config, row, event, timeoutMs, signal),
  );
}

async function send(
  config: DaprSidecarConfig,
  row: OutboxRow,
  event: ReturnType<typeof rowToOutboxEvent>,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const path =
    `/v1.0/publish/${encodeURIComponent(config.pubsubName)}/${encodeURIComponent(event.topic)}` +
    `?metadata.partitionKey=${encodeURIComponent(event.key)}`;
  const response = await callDapr(config, 'POST', path, {
    body: JSON.stringify(toCloudEvent(event, String(row.seq))),
    contentType: 'application/cloudevents+json',
    headers: traceHeaders(),
    timeoutMs,
    signal,
  });
  if (response.status < 200 || response.status >= 300) {
    throw new Error(`publish to ${event.topic} failed: HTTP ${response.status} ${response.text.slice(0, 200)}`);
  }
}
