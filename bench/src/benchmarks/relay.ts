/**
 * 6. Outbox relay throughput (Dapr mode) against the sidecar double: a burst of task events over
 * many keys appended through `appendToOutbox` in one transaction, published by the real relay
 * (`DaprEventBus`, own process, with its embedded Postgres) to the Dapr sidecar double (own
 * process, real HTTP), whose broker delivers every event to a subscriber app that checks exactly
 * once and per-key order. Twice: with bulk publish, and with the per-message fallback (the double
 * answers 404 on the bulk route, as a daprd without it does).
 */
import type { BenchContext, Benchmark, BenchOutput } from '../lib/benchmark.js';
import { type Child, procPath, startChild } from '../lib/child.js';
import { cpuProfileFlags, profileMarkdown, summarizeProfile } from '../lib/cpuprofile.js';
import { profileDir } from '../lib/harness.js';
import { CpuMeter, cpuLine } from '../lib/proc-cpu.js';
import { table, verdict } from '../lib/report.js';
import { fmt, monotonicMs } from '../lib/stats.js';
import type { SubscriberReport } from '../procs/dapr-double.js';
import type { AppendRequest, AppendResult } from '../procs/relay.js';

/** The bus target of issue 15 (events per second drained from a 10,000-event burst). */
const TARGET = 2_000;
const KEYS = 500;
const WARMUP = 1_000;

interface Phase {
  name: string;
  bulk: boolean;
  events: number;
  append: AppendResult;
  /** Monotonic ms: the burst committed, the broker had every event, the subscriber had every event. */
  publishedAt: number;
  deliveredAt: number;
  publishRate: number;
  deliverRate: number;
  cores: Record<string, number>;
  seconds: number;
  /** CPU ms per event over commit → all published. */
  cpuMsPerEvent: Record<string, number>;
  subscriber: SubscriberReport;
  requests: Requests;
  exactlyOnceInOrder: boolean;
}

/** What the sidecar double saw (`requests` of the dapr-double process). */
interface Requests {
  bulk: number;
  single: number;
  messages: number;
  distinctMessages: number;
  redeliveries: number;
  failedDeliveries: number;
}

async function runPhase(relay: Child, bulk: boolean, events: number): Promise<Phase> {
  const double = startChild<{ port: number; pid: number }>(procPath('dapr-double'), {
    name: `dapr-double:${bulk ? 'bulk' : 'no-bulk'}`,
    args: [bulk ? 'bulk' : 'no-bulk'],
  });
  try {
    const { port } = await double.ready;
    await relay.request('start', { port });
    const request = (n: number): AppendRequest => ({ events: n, keys: KEYS, perTransaction: n, perStatement: 500 });
    // Warm-up (JIT, connections), then the burst in one transaction: the relay sees it all at commit.
    await relay.request<AppendResult>('append', request(WARMUP));
    await double.request('published', { n: WARMUP, timeoutMs: 120_000 });
    const append = await relay.request<AppendResult>('append', request(events));
    const meter = new CpuMeter({ relay: relay.pid, 'sidecar double': double.pid });
    const publishedAt = await double.request<number>('published', { n: WARMUP + events, timeoutMs: 240_000 });
    const cores = meter.read();
    const seconds = meter.seconds;
    // Then the subscriber joins and gets the whole topic from the broker (as a consumer group does from Kafka).
    const subscribedAt = monotonicMs();
    await double.request('subscribe');
    const deliveredAt = await double.request<number>('delivered', { n: WARMUP + events, timeoutMs: 240_000 });
    // Anything sent twice would show now.
    await new Promise((r) => setTimeout(r, 500));
    const subscriber = await double.request<SubscriberReport>('report');
    const requests = await double.request<Requests>('requests');
    const unpublished = await relay.request<number>('unpublished');
    await relay.request('stopBus');
    const total = WARMUP + events;
    const cpuMsPerEvent = Object.fromEntries(Object.entries(cores).map(([name, c]) => [name, (c * seconds * 1000) / events]));
    return {
      name: bulk ? 'bulk publish' : 'per-message fallback (bulk route 404)',
      bulk,
      events,
      append,
      publishedAt,
      deliveredAt,
      publishRate: events / ((publishedAt - append.committedAt) / 1000),
      deliverRate: (WARMUP + events) / ((deliveredAt - subscribedAt) / 1000),
      cores,
      seconds,
      cpuMsPerEvent,
      subscriber,
      requests,
      // The relay published each event once (the broker's log), the subscriber got them all, in order per key.
      exactlyOnceInOrder:
        requests.messages === total &&
        requests.distinctMessages === total &&
        subscriber.distinct === total &&
        subscriber.outOfOrder === 0 &&
        unpublished === 0,
    };
  } finally {
    await double.stop();
  }
}

export const relayThroughput: Benchmark = {
  name: 'relay',
  title: 'Outbox relay (Dapr mode) → sidecar double, bulk and per-message',
  async run(context: BenchContext): Promise<BenchOutput> {
    const events = context.quick ? 2_000 : 10_000;
    const dir = profileDir('relay', 'relay');
    const relay = startChild<{ pid: number }>(procPath('relay'), { name: 'relay', execArgv: cpuProfileFlags(dir) });
    const phases: Phase[] = [];
    try {
      await relay.ready;
      phases.push(await runPhase(relay, true, events));
      phases.push(await runPhase(relay, false, events));
    } finally {
      await relay.stop(60_000);
    }
    const profiles = phases.map((p) =>
      profileMarkdown(
        `CPU profile, relay process, ${p.name}: burst committed → all published`,
        summarizeProfile(dir, p.append.committedAt, p.publishedAt),
      ),
    );
    const cpu = (p: Phase, name: string) => fmt(p.cpuMsPerEvent[name] ?? Number.NaN);
    const rows = phases.flatMap((p) => [
      [
        `${p.name}: published (burst committed → last event at the broker)`,
        `**${fmt(p.publishRate)} events/s** (${fmt((p.publishedAt - p.append.committedAt) / 1000)} s)`,
        `≥ ${TARGET.toLocaleString('en-US')}/s`,
        verdict(p.publishRate >= TARGET),
      ],
      [
        `${p.name}: then delivered by the double's broker to the subscriber (joins after the publish; whole topic)`,
        `${fmt(p.deliverRate)} events/s`,
        '',
        '',
      ],
      [
        `${p.name}: requests to the sidecar (bulk / single)`,
        `${p.requests.bulk.toLocaleString('en-US')} / ${p.requests.single.toLocaleString('en-US')} for ${(WARMUP + p.events).toLocaleString('en-US')} events`,
        '',
        '',
      ],
      [
        `${p.name}: CPU ms per event, relay process / Postgres / sidecar double`,
        `**${cpu(p, 'relay')}** / **${cpu(p, 'postgres')}** / ${cpu(p, 'sidecar double')} ms (cores ${cpuLine(p.cores)})`,
        'drive down',
        '',
      ],
      [
        `${p.name}: published once each — broker messages / distinct event ids; at the subscriber: distinct events / out of order per key (keys); redelivered by the double after a delivery error`,
        `${p.requests.messages} / ${p.requests.distinctMessages}; ${p.subscriber.distinct} / ${p.subscriber.outOfOrder} (${p.subscriber.keys} keys); ${p.subscriber.duplicates}`,
        `${(WARMUP + p.events).toLocaleString('en-US')} each; 0 out of order`,
        verdict(p.exactlyOnceInOrder),
      ],
    ]);
    const first = phases[0]!;
    const markdown = [
      `### 6. ${this.title}`,
      '',
      `Run ${context.date} with \`${context.command}\`. The relay process runs the real \`DaprEventBus\` (relay on, default batch of 500 rows, bulk requests of ≤ 100 entries with one event per key; without bulk, one request per event, each key's events in order and up to 100 keys at once) on its own embedded Postgres (durable); the Dapr sidecar double (\`@taskgraph/test-kit\`, real HTTP) runs in a second process with a subscriber app, which joins once everything is published (the publisher's sidecar does not deliver; Kafka keeps the topic) and is then delivered the whole topic one event at a time per key. Per phase: a ${WARMUP.toLocaleString('en-US')}-event warm-up, then **${first.events.toLocaleString('en-US')} task events over ${KEYS} task keys** (version after version) appended through \`appendToOutbox\` in one transaction (${first.events / 500} statements of 500; took ${fmt((first.append.committedAt - first.append.startedAt) / 1000)} s in the bulk phase), timed from its commit. CPU from \`/proc\` over commit → last event at the broker, per event of the burst.`,
      '',
      table(['figure', 'measured', 'target', ''], rows),
      '',
      ...profiles,
    ].join('\n');
    const fallback = phases[1]!;
    return {
      summary: [
        {
          figure: `6. outbox relay → sidecar double, bulk publish (${first.events.toLocaleString('en-US')}-event burst, ${KEYS} keys)`,
          measured: `${fmt(first.publishRate)}/s; CPU/event relay ${cpu(first, 'relay')} ms, Postgres ${cpu(first, 'postgres')} ms`,
          target: `≥ ${TARGET.toLocaleString('en-US')}/s`,
          met: first.publishRate >= TARGET,
        },
        {
          figure: '6. outbox relay → sidecar double, per-message fallback (bulk route 404)',
          measured: `${fmt(fallback.publishRate)}/s; CPU/event relay ${cpu(fallback, 'relay')} ms, Postgres ${cpu(fallback, 'postgres')} ms`,
          target: `≥ ${TARGET.toLocaleString('en-US')}/s`,
          met: fallback.publishRate >= TARGET,
        },
        {
          figure: '6. relay: every event at the subscriber once, in order per key (both phases)',
          measured: phases
            .map(
              (p) =>
                `${p.requests.distinctMessages} published once, ${p.subscriber.distinct} received, ${p.subscriber.outOfOrder} out of order`,
            )
            .join('; '),
          target: 'exactly once, in order',
          met: phases.every((p) => p.exactlyOnceInOrder),
        },
      ],
      markdown,
      lines: phases.map(
        (p) =>
          `${p.name}: published ${fmt(p.publishRate)}/s, delivered ${fmt(p.deliverRate)}/s; requests bulk ${p.requests.bulk} single ${p.requests.single}; CPU ms/event relay ${cpu(p, 'relay')} postgres ${cpu(p, 'postgres')} double ${cpu(p, 'sidecar double')} (${cpuLine(p.cores)}); subscriber ${JSON.stringify(p.subscriber)}; ok ${p.exactlyOnceInOrder}`,
      ),
      data: { phases },
    };
  },
};
