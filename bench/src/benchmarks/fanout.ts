/**
 * 3. Fan-out: 1k, 5k and 10k graphql-ws subscribers of the same user on one gateway process
 * (clients in another process), one `updateTask` broadcast to all; latency = mutation request
 * sent → update received, per subscriber. Memory: the gateway's RSS after a full GC, idle
 * subscribed connections vs none.
 */
import { readFileSync } from 'node:fs';
import type { BenchContext, Benchmark, BenchOutput } from '../lib/benchmark.js';
import { procPath, startChild } from '../lib/child.js';
import { profileMarkdown, summarizeProfile } from '../lib/cpuprofile.js';
import { postGraphQL, profileDir, sleep, startGatewayChild, startSystemChild, waitUntil } from '../lib/harness.js';
import { CpuMeter, cpuLine } from '../lib/proc-cpu.js';
import { table, verdict } from '../lib/report.js';
import { seedTasks } from '../lib/seed.js';
import { fmt, type LatencySummary, monotonicMs, summarize } from '../lib/stats.js';
import type { ArrivalsResult } from '../procs/ws-clients.js';

export const FANOUT_SUBSCRIPTION = `subscription Fan { taskUpdates { cursor op taskId version task { id title version } } }`;
const UPDATE = 'mutation Broadcast($id: ID!, $title: String!) { updateTask(id: $id, input: { title: $title }) { version } }';

interface Level {
  subscribers: number;
  rssBytes: number;
  heapBytes: number;
  perConnectionKB: number;
  heapPerConnectionKB: number;
  latency: LatencySummary;
  /** p99 of each measured broadcast. */
  perBroadcastP99: number[];
  missing: number;
  errors: string[];
  window: [number, number];
  cores: Record<string, number>;
}

interface Memory {
  rss: number;
  heapUsed: number;
}

export const fanout: Benchmark = {
  name: 'fanout',
  title: 'Subscription fan-out on one gateway process',
  async run(context: BenchContext): Promise<BenchOutput> {
    const levels = context.quick ? [200, 1_000] : [1_000, 5_000, 10_000];
    const broadcasts = context.quick ? 2 : 5;
    const dir = profileDir('fanout', 'gateway');
    const system = await startSystemChild();
    const clients = startChild(procPath('ws-clients'), { name: 'ws-clients' });
    let gateway: Awaited<ReturnType<typeof startGatewayChild>> | undefined;
    try {
      const [task] = await seedTasks(system, { tasks: 1, reminders: 0, updates: 0 });
      if (!task) throw new Error('no task');
      gateway = await startGatewayChild(system, 'ours', { profile: dir });
      const gw = gateway;
      await clients.ready;
      // Warm the gateway's HTTP path and JIT before the baseline.
      for (let i = 0; i < 20; i++) await postGraphQL(gw.url, system.token, UPDATE, { id: task.id, title: `warm ${i}` });
      await sleep(500);
      const baseline = await gw.child.request<Memory>('memory');
      const results: Level[] = [];
      let open = 0;
      for (const level of levels) {
        await clients.request('connect', { url: gw.url, token: system.token, query: FANOUT_SUBSCRIPTION, count: level - open });
        open = level;
        await waitUntil(
          `${level} gateway subscriptions`,
          async () => (await gw.child.request<{ subscriptions: number }>('stats')).subscriptions >= level,
          60_000,
        );
        await sleep(1_000);
        const memory = await gw.child.request<Memory>('memory');
        const latencies: number[] = [];
        const perBroadcastP99: number[] = [];
        let missing = 0;
        const errors: string[] = [];
        let from = 0;
        const meter = new CpuMeter({ gateway: gw.child.pid, subgraphs: system.child.pid, client: clients.pid });
        // Broadcast 0 warms the shared pipeline (upstream on sync, entity fetch path); not measured.
        for (let b = 0; b <= broadcasts; b++) {
          await clients.request('reset');
          if (b === 1) {
            from = monotonicMs();
            meter.restart();
          }
          const t0 = monotonicMs();
          const sent = await postGraphQL(gw.url, system.token, UPDATE, { id: task.id, title: `broadcast ${level}-${b}` });
          if (sent.errors) throw new Error(`broadcast mutation: ${JSON.stringify(sent.errors)}`);
          const got = await clients.request<ArrivalsResult>('arrivals', { perSubscriber: 1, timeoutMs: 30_000 });
          if (b === 0) continue;
          const ms = got.arrivals.map((t) => t - t0);
          latencies.push(...ms);
          perBroadcastP99.push(summarize(ms).p99);
          missing += got.missing;
          errors.push(...got.errors);
          await sleep(300);
        }
        const level_: Level = {
          subscribers: level,
          rssBytes: memory.rss,
          heapBytes: memory.heapUsed,
          perConnectionKB: (memory.rss - baseline.rss) / level / 1024,
          heapPerConnectionKB: (memory.heapUsed - baseline.heapUsed) / level / 1024,
          latency: summarize(latencies),
          perBroadcastP99,
          missing,
          errors: [...new Set(errors)].slice(0, 5),
          window: [from, monotonicMs()],
          cores: meter.read(),
        };
        results.push(level_);
        console.log(
          `  ${level}: p50 ${fmt(level_.latency.p50)} p95 ${fmt(level_.latency.p95)} p99 ${fmt(level_.latency.p99)} ms, ${fmt(level_.perConnectionKB)} KB RSS/conn, missing ${missing}`,
        );
      }
      const sample = await clients.request<string | undefined>('sample');
      await gw.child.stop();
      const top = results.at(-1);
      const latencyOk = (l: Level) => l.latency.p99 < 250 && l.missing === 0 && l.errors.length === 0;
      const memoryOk = (l: Level) => l.perConnectionKB < 15;
      const markdown = [
        `### 3. ${this.title}`,
        '',
        `Run ${context.date} with \`${context.command}\`. Subscribers: raw \`ws\` clients speaking graphql-transport-ws, all in one client process, all the same user and operation (\`Fan\` below, \`task\` resolved from the tasks subgraph), so the gateway shares one upstream and one pipeline and fans each result out. Our gateway alone in its own process (\`--expose-gc\`); subgraphs + embedded Postgres in a third. Per level: ${broadcasts} measured broadcasts (after one unmeasured) of one \`updateTask\`; latency = mutation request sent → update received, per subscriber, all broadcasts pooled. Memory = gateway RSS after a forced full GC with every connection open and idle, minus the same before any connection (${fmt(baseline.rss / 1024 ** 2)} MB), divided by the connections.`,
        '',
        table(
          [
            'subscribers',
            'p50 ms',
            'p95 ms',
            'p99 ms',
            'max ms',
            'p99 per broadcast',
            'missing',
            'p99 target',
            'RSS / idle conn',
            'heap / conn',
            'RSS target',
          ],
          results.map((l) => [
            l.subscribers.toLocaleString('en-US'),
            fmt(l.latency.p50),
            fmt(l.latency.p95),
            fmt(l.latency.p99),
            fmt(l.latency.max),
            l.perBroadcastP99.map(fmt).join(', '),
            l.missing,
            l.subscribers === 10_000 ? `< 250 ms ${verdict(latencyOk(l))}` : '',
            `${fmt(l.perConnectionKB)} KB`,
            `${fmt(l.heapPerConnectionKB)} KB`,
            l.subscribers === 10_000 ? `< 15 KB ${verdict(memoryOk(l))}` : '',
          ]),
          ['r', 'r', 'r', 'r', 'r', 'l', 'r', 'l', 'r', 'r', 'l'],
        ),
        '',
        ...results.map(
          (l) =>
            `CPU during the ${l.subscribers.toLocaleString('en-US')} broadcasts (cores; includes 300 ms pauses): ${cpuLine(l.cores)}  `,
        ),
        '',
        ...results.filter((l) => l.errors.length).map((l) => `Errors at ${l.subscribers}: \`${l.errors.join('`, `')}\``),
        '',
        '```graphql',
        FANOUT_SUBSCRIPTION,
        '```',
        '',
        `One delivered message: \`${(sample ?? '').slice(0, 300)}\``,
        '',
        top
          ? profileMarkdown(
              `CPU profile, gateway process, broadcasts to ${top.subscribers.toLocaleString('en-US')}`,
              summarizeProfile(dir, ...top.window),
            )
          : '',
      ].join('\n');
      return {
        summary: [
          ...results.map((l) => ({
            figure: `3. fan-out to ${l.subscribers.toLocaleString('en-US')} subscribers`,
            measured: `p50 ${fmt(l.latency.p50)} / p95 ${fmt(l.latency.p95)} / p99 ${fmt(l.latency.p99)} ms${l.missing ? `, ${l.missing} missing` : ''}`,
            target: l.subscribers === 10_000 ? 'p99 < 250 ms' : 'reference',
            ...(l.subscribers === 10_000 ? { met: latencyOk(l) } : {}),
          })),
          ...(top
            ? [
                {
                  figure: `3. gateway RSS per idle connection (${top.subscribers.toLocaleString('en-US')})`,
                  measured: `${fmt(top.perConnectionKB)} KB`,
                  target: '< 15 KB',
                  met: memoryOk(top),
                },
              ]
            : []),
          {
            figure: '3. 20,000 connections held by one gateway process',
            // One file descriptor per connection in the gateway and in the client process, plus their own.
            measured: `not measured: this machine's hard limit on open files is ${openFileLimit()} per process`,
            target: '20,000 held',
            met: false,
          },
        ],
        markdown,
        lines: results.map(
          (l) =>
            `${l.subscribers}: p50 ${fmt(l.latency.p50)} p95 ${fmt(l.latency.p95)} p99 ${fmt(l.latency.p99)} ms, ${fmt(l.perConnectionKB)} KB RSS/idle conn, missing ${l.missing}`,
        ),
        data: { baseline, levels: results },
      };
    } finally {
      await gateway?.child.stop();
      await clients.stop();
      await system.stop();
    }
  },
};

/** The hard RLIMIT_NOFILE of this process (children inherit it), from /proc. */
function openFileLimit(): string {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    return line?.trim().split(/\s+/)[4] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
