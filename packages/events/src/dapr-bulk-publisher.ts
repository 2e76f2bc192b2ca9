import { callDapr } from './dapr-http.js';
import { toCloudEvent } from './envelope.js';
import type { DaprSidecarConfig } from './event-bus-options.js';
import { type OutboxRow, rowToOutboxEvent } from './outbox-row.js';

/** One entry of a bulk publish request (Dapr pub/sub API, `POST /v1.0-alpha1/publish/bulk/{pubsub}/{topic}`). */
export interface BulkPublishEntry {
  entryId: string;
  event: unknown;
  contentType: string;
  metadata?: Record<string, string>;
}

/** The 500 answer of a bulk publish: the entries that failed (the others were published). */
interface BulkPublishFailure {
  failedEntries?: { entryId?: string; error?: string }[];
  errorCode?: string;
}

/** Result of one bulk request: seqs published, seqs that failed, and why. */
export interface BulkPublishResult {
  published: string[];
  failed: string[];
  error?: string;
}

/**
 * Publishes rows of one topic in one request through the sidecar's bulk publish API
 * (ARCHITECTURE §5). Each entry is our own CloudEvent (`application/cloudevents+json`, so Dapr
 * passes it through unwrapped), with the task id as the entry's `partitionKey`. `entryId` is the
 * row's `seq`. Dapr answers 204 when every entry was published, 500 with `failedEntries` when
 * some were not (the others were), and other statuses when nothing was (no bulk API: 404/405).
 *
 * Bulk publish does not order the entries of one request, so the caller puts at most one event
 * per key in a request (`bulkRounds`): per-key order then holds across requests.
 */
export async function publishBulkToDapr(
  config: DaprSidecarConfig,
  topic: string,
  rows: OutboxRow[],
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<BulkPublishResult> {
  const entries: BulkPublishEntry[] = rows.map((row) => {
    const event = rowToOutboxEvent(row);
    return {
      entryId: String(row.seq),
      event: toCloudEvent(event, String(row.seq)),
      contentType: 'application/cloudevents+json',
      metadata: { partitionKey: event.key },
    };
  });
  const path = `/v1.0-alpha1/publish/bulk/${encodeURIComponent(config.pubsubName)}/${encodeURIComponent(topic)}`;
  const response = await callDapr(config, 'POST', path, {
    body: JSON.stringify(entries),
    contentType: 'application/json',
    timeoutMs,
    signal,
  });
  const all = entries.map((e) => e.entryId);
  if (response.status >= 200 && response.status < 300) return { published: all, failed: [] };
  let failure: BulkPublishFailure | undefined;
  try {
    failure = JSON.parse(response.text) as BulkPublishFailure;
  } catch {
    failure = undefined;
  }
  const reason = `bulk publish to ${topic}: HTTP ${response.status} ${response.text.slice(0, 200)}`;
  if (response.status !== 500 || !Array.isArray(failure?.failedEntries)) throw new BulkPublishUnavailable(response.status, reason);
  const failed = new Set(failure.failedEntries.map((e) => String(e.entryId)));
  return { published: all.filter((id) => !failed.has(id)), failed: all.filter((id) => failed.has(id)), error: reason };
}

/** The sidecar did not take the bulk request as such (no bulk API, refused, not ready): fall back to one publish per message. */
export class BulkPublishUnavailable extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'BulkPublishUnavailable';
  }
}

/**
 * Splits rows (in `seq` order) into bulk requests sent one after the other: each request is a run
 * of consecutive rows of one topic with at most one event per key (a repeated key, another topic
 * or `maxEntries` starts the next request). Dapr does not order the entries of one request, but a
 * key never has two events in one, so per-key order holds, and requests follow log order.
 */
export function bulkRounds(rows: OutboxRow[], maxEntries: number): OutboxRow[][] {
  const rounds: OutboxRow[][] = [];
  let current: OutboxRow[] = [];
  let keys = new Set<string>();
  for (const row of rows) {
    if (current.length > 0 && (current.length >= maxEntries || current[0]!.topic !== row.topic || keys.has(row.key))) {
      rounds.push(current);
      current = [];
      keys = new Set();
    }
    current.push(row);
    keys.add(row.key);
  }
  if (current.length > 0) rounds.push(current);
  return rounds;
}
