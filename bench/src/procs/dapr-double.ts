/**
 * The Dapr sidecar double (`@taskgraph/test-kit`, real HTTP on port 0) in its own process, with a
 * subscriber app behind it (real HTTP too): once `subscribe` attaches it, the double's broker
 * delivers every published event (the backlog first) to the subscriber's `/events/<topic>` route,
 * one at a time per partition key, as daprd + Kafka do. Until then the double only takes publishes,
 * as the publisher's own sidecar does (delivery is another sidecar's work).
 * The subscriber checks what the relay's consumers would rely on: every event once, and per key in
 * log order (the CloudEvent's `seq` extension). argv[2] = `bulk` or `no-bulk` (the double then
 * answers 404 on the bulk publish route, as a daprd without the bulk API does).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type DaprSidecarDouble, startDaprSidecarDouble } from '@taskgraph/test-kit';
import { serveParent } from '../lib/child.js';
import { monotonicMs } from '../lib/stats.js';

export const RELAY_TOPIC = 'task-events';

export interface SubscriberReport {
  /** Deliveries the subscriber answered SUCCESS to. */
  received: number;
  /** Distinct event ids among them. */
  distinct: number;
  /** Deliveries of an event already received (the broker redelivers after a delivery error: at least once). */
  duplicates: number;
  /** Deliveries whose `seq` was below the last one of its key. */
  outOfOrder: number;
  keys: number;
  /** Monotonic ms of the first and last delivery. */
  firstAt: number;
  lastAt: number;
}

interface State {
  sidecar: DaprSidecarDouble;
  subscriber: Server;
  appUrl: string;
  lastSeq: Map<string, bigint>;
  ids: Set<string>;
  report: SubscriberReport;
}

function emptyReport(): SubscriberReport {
  return { received: 0, distinct: 0, duplicates: 0, outOfOrder: 0, keys: 0, firstAt: 0, lastAt: 0 };
}

/** Resolves with the monotonic ms at which `count()` reached `n` (checked every 2 ms, here in this process). */
async function reached(count: () => number, n: number, timeoutMs: number): Promise<number> {
  const end = monotonicMs() + timeoutMs;
  while (count() < n) {
    if (monotonicMs() > end) throw new Error(`only ${count()} of ${n} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
  return monotonicMs();
}

await serveParent<State>(
  async () => {
    const state = { lastSeq: new Map<string, bigint>(), ids: new Set<string>(), report: emptyReport() } as State;
    state.subscriber = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method === 'GET' && req.url === '/dapr/subscribe') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify([{ pubsubname: 'pubsub', topic: RELAY_TOPIC, routes: { default: `/events/${RELAY_TOPIC}` }, metadata: {} }]),
          );
          return;
        }
        const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string; partitionkey?: string; seq?: string };
        const { report } = state;
        const now = monotonicMs();
        if (report.received === 0) report.firstAt = now;
        report.lastAt = now;
        report.received++;
        if (state.ids.has(event.id)) report.duplicates++;
        state.ids.add(event.id);
        const key = event.partitionkey ?? '';
        const seq = BigInt(event.seq ?? '0');
        const last = state.lastSeq.get(key);
        if (last !== undefined && seq < last) report.outOfOrder++;
        if (last === undefined || seq > last) state.lastSeq.set(key, seq);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"status":"SUCCESS"}');
      });
    });
    await new Promise<void>((resolve) => state.subscriber.listen(0, '127.0.0.1', resolve));
    state.appUrl = `http://127.0.0.1:${(state.subscriber.address() as AddressInfo).port}`;
    state.sidecar = await startDaprSidecarDouble({
      appId: 'publisher',
      bulkPublish: process.argv[2] !== 'no-bulk',
      // Hundreds of keys deliver at once from this one process: a long timeout, so slow is not mistaken for lost.
      delivery: { deliveryTimeoutMs: 60_000 },
    });
    return state;
  },
  (state) => ({
    /** Attaches the subscriber (a new consumer group: it receives the topic from the start). */
    subscribe: async () => {
      await state.sidecar.addApp(state.appUrl, { appId: 'subscriber' });
      return true;
    },
    /** When the broker had `n` messages of the topic (published), and when the subscriber had `n` distinct events. */
    published: ({ n, timeoutMs }: { n: number; timeoutMs: number }) =>
      reached(() => state.sidecar.broker.messages(RELAY_TOPIC).length, n, timeoutMs),
    delivered: ({ n, timeoutMs }: { n: number; timeoutMs: number }) => reached(() => state.ids.size, n, timeoutMs),
    report: (): SubscriberReport => ({ ...state.report, distinct: state.ids.size, keys: state.lastSeq.size }),
    /** Publish requests the sidecar received, by route; messages the broker holds (and distinct event ids); delivery attempts that were retries. */
    requests: () => {
      const messages = state.sidecar.broker.messages(RELAY_TOPIC);
      return {
        bulk: state.sidecar.bulkPublishRequests().length,
        single: state.sidecar.publishRequests().length,
        messages: messages.length,
        distinctMessages: new Set(messages.map((m) => m.eventId)).size,
        redeliveries: state.sidecar.deliveries.filter((d) => d.attempt > 1).length,
        failedDeliveries: state.sidecar.deliveries.filter((d) => d.outcome !== 'SUCCESS').length,
      };
    },
  }),
  (state) => ({ port: state.sidecar.port, pid: process.pid }),
  async (state) => {
    await state.sidecar.close();
    await new Promise<void>((resolve) => {
      state.subscriber.close(() => resolve());
      state.subscriber.closeAllConnections();
    });
  },
);
