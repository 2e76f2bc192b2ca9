/**
 * 3. Fan-out: graphql-ws subscribers of the same user, one `updateTask` broadcast to all; latency =
 * mutation request sent → update received, per subscriber. Memory: each gateway's RSS after a full
 * GC, idle subscribed connections vs none.
 *
 * Phases: 1k, 5k and 10k subscribers on one gateway process; then 20,000 connections held by two
 * gateway processes (10,000 each, two instances as production scales gateways horizontally, each
 * with its own upstream and pipeline); then as many as one gateway process can hold under the
 * machine's open-file limit (19,900). Clients run in several processes (at most 5,000 connections
 * each): a process cannot open more sockets than its open-file limit either.
 */
import { readFileSync } from 'node:fs';
import type { BenchContext, Benchmark, BenchOutput } from '../lib/benchmark.js';
import { type Child, procPath, startChild } from '../lib/child.js';
import { profileMarkdown, summarizeProfile } from '../lib/cpuprofile.js';
import {
  type GatewayChild,
  postGraphQL,
  profileDir,
  type RunningSystemChild,
  sleep,
  startGatewayChild,
  startSystemChild,
  waitUntil,
} from '../lib/harness.js';
import { CpuMeter, cpuLine } from '../lib/proc-cpu.js';
import { table, verdict } from '../lib/report.js';
import { seedTasks } from '../lib/seed.js';
import { measureStages, type StageLag } from '../lib/stage-lag.js';
import { fmt, type LatencySummary, monotonicMs, summarize } from '../lib/stats.js';
import type { ArrivalsResult } from '../procs/ws-clients.js';

export const FANOUT_SUBSCRIPTION = `subscription Fan { taskUpdates { cursor op taskId version task { id title version } } }`;
const UPDATE = 'mutation Broadcast($id: ID!, $title: String!) { updateTask(id: $id, input: { title: $title }) { version } }';
/** Connections per client process (well under the open-file limit; several processes share the receiving work). */
const PER_CLIENT_PROCESS = 5_000;
/** One gateway process at the open-file limit: 20,000 descriptors minus what the process itself holds (~40). */
const SINGLE_PROCESS_MAX = 19_900;

interface Memory {
  rss: number;
  heapUsed: number;
}

/** One gateway process's share of a level. */
interface ProcessFigures {
  name: string;
  connections: number;
  perConnectionKB: number;
  heapPerConnectionKB: number;
  fds: number;
}

interface Level {
  label: string;
  subscribers: number;
  processes: ProcessFigures[];
  latency: LatencySummary;
  /** p99 of each measured broadcast. */
  perBroadcastP99: number[];
  missing: number;
  errors: string[];
  window: [number, number];
  cores: Record<string, number>;
  /** Median over broadcasts of the first arrival (mutation → first subscriber: the path before the fan-out). */
  firstMs: number;
  /** CPU of the gateway processes and of the client processes per measured broadcast (ms). */
  gatewayCpuMs: number;
  clientsCpuMs: number;
  /** Delivery stages observed by sync and the gateways during the measured broadcasts. */
  stages: StageLag[];
}

interface Gateway {
  name: string;
  group: string;
  child: GatewayChild;
  baseline: Memory;
  connections: number;
}

/** Client processes (raw `ws` graphql-transport-ws), filled up to `PER_CLIENT_PROCESS` connections each. */
class Clients {
  readonly processes: { child: Child; open: number }[] = [];

  async connect(url: string, token: string, count: number, group: string): Promise<void> {
    let remaining = count;
    const batches: Promise<unknown>[] = [];
    while (remaining > 0) {
      let target = this.processes.find((p) => p.open < PER_CLIENT_PROCESS);
      if (!target) {
        const child = startChild(procPath('ws-clients'), { name: `ws-clients ${this.processes.length + 1}` });
        await child.ready;
        target = { child, open: 0 };
        this.processes.push(target);
      }
      const n = Math.min(remaining, PER_CLIENT_PROCESS - target.open);
      target.open += n;
      remaining -= n;
      batches.push(target.child.request('connect', { url, token, query: FANOUT_SUBSCRIPTION, count: n, group }));
    }
    await Promise.all(batches);
  }

  async disconnect(group: string): Promise<void> {
    await Promise.all(
      this.processes.map(async (p) => {
        p.open -= await p.child.request<number>('disconnect', { group });
      }),
    );
  }

  async reset(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.child.request('reset')));
  }

  async arrivals(timeoutMs: number): Promise<ArrivalsResult> {
    const all = await Promise.all(this.processes.map((p) => p.child.request<ArrivalsResult>('arrivals', { perSubscriber: 1, timeoutMs })));
    return {
      subscribers: all.reduce((n, r) => n + r.subscribers, 0),
      arrivals: all.flatMap((r) => r.arrivals),
      missing: all.reduce((n, r) => n + r.missing, 0),
      errors: [...new Set(all.flatMap((r) => r.errors))].slice(0, 10),
    };
  }

  sample(): Promise<string | undefined> {
    return this.processes[0]?.child.request<string | undefined>('sample') ?? Promise.resolve(undefined);
  }

  pids(): Record<string, number> {
    return Object.fromEntries(this.processes.map((p, i) => [`client ${i + 1}`, p.child.pid]));
  }

  async stop(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.child.stop()));
  }
}

/** Client processes' CPU summed into one `clients` figure. */
function mergeClients(cores: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  let clients = 0;
  for (const [name, value] of Object.entries(cores)) {
    if (name.startsWith('client ')) clients += value;
    else out[name] = value;
  }
  return { ...out, clients };
}

export const fanout: Benchmark = {
  name: 'fanout',
  title: 'Subscription fan-out on one and two gateway processes',
  async run(context: BenchContext): Promise<BenchOutput> {
    const levels = context.quick ? [200, 1_000] : [1_000, 5_000, 10_000];
    const pairPerProcess = context.quick ? 1_000 : 10_000;
    const singleMax = context.quick ? 2_000 : SINGLE_PROCESS_MAX;
    const broadcasts = context.quick ? 2 : 5;
    const dir = profileDir('fanout', 'gateway');
    const system = await startSystemChild();
    const clients = new Clients();
    const gateways: Gateway[] = [];
    try {
      const [task] = await seedTasks(system, { tasks: 1, reminders: 0, updates: 0 });
      if (!task) throw new Error('no task');
      const a = await startGateway(system, 'gateway A', 'a', { profile: dir });
      gateways.push(a);
      // Warm the gateway's HTTP path and JIT before the baseline.
      for (let i = 0; i < 20; i++) await postGraphQL(a.child.url, system.token, UPDATE, { id: task.id, title: `warm ${i}` });
      await sleep(500);
      a.baseline = await a.child.child.request<Memory>('memory');

      const measure = async (label: string, on: Gateway[]): Promise<Level> => {
        const subscribers = on.reduce((n, g) => n + g.connections, 0);
        for (const g of on) {
          await waitUntil(
            `${g.connections} subscriptions on ${g.name}`,
            async () => (await g.child.child.request<{ subscriptions: number }>('stats')).subscriptions >= g.connections,
            120_000,
          );
        }
        await sleep(1_000);
        const processes: ProcessFigures[] = [];
        for (const g of on) {
          const memory = await g.child.child.request<Memory>('memory');
          processes.push({
            name: g.name,
            connections: g.connections,
            perConnectionKB: (memory.rss - g.baseline.rss) / g.connections / 1024,
            heapPerConnectionKB: (memory.heapUsed - g.baseline.heapUsed) / g.connections / 1024,
            fds: await g.child.child.request<number>('fds'),
          });
        }
        const latencies: number[] = [];
        const perBroadcastP99: number[] = [];
        let missing = 0;
        const errors: string[] = [];
        const firsts: number[] = [];
        let from = 0;
        let stages: (() => Promise<StageLag[]>) | undefined;
        const meter = new CpuMeter({
          ...Object.fromEntries(on.map((g) => [g.name, g.child.child.pid])),
          subgraphs: system.child.pid,
          ...clients.pids(),
        });
        // Broadcast 0 warms the shared pipelines (upstream on sync, entity fetch path); not measured.
        for (let b = 0; b <= broadcasts; b++) {
          await clients.reset();
          if (b === 1) {
            from = monotonicMs();
            meter.restart();
            stages = await measureStages([system.info.subgraphs.sync ?? '', ...on.map((g) => g.child.url)]);
          }
          const t0 = monotonicMs();
          const sent = await postGraphQL(a.child.url, system.token, UPDATE, { id: task.id, title: `broadcast ${label}-${b}` });
          if (sent.errors) throw new Error(`broadcast mutation: ${JSON.stringify(sent.errors)}`);
          const got = await clients.arrivals(30_000);
          if (b === 0) continue;
          const ms = got.arrivals.map((t) => t - t0);
          latencies.push(...ms);
          perBroadcastP99.push(summarize(ms).p99);
          firsts.push(Math.min(...ms));
          missing += got.missing;
          errors.push(...got.errors);
          await sleep(300);
        }
        const cores = mergeClients(meter.read());
        const cpuMs = (cores_: number) => (cores_ * meter.seconds * 1000) / broadcasts;
        const level: Level = {
          firstMs: summarize(firsts).p50,
          gatewayCpuMs: cpuMs(on.reduce((n, g) => n + (cores[g.name] ?? 0), 0)),
          clientsCpuMs: cpuMs(cores.clients ?? 0),
          stages: stages ? await stages() : [],
          label,
          subscribers,
          processes,
          latency: summarize(latencies),
          perBroadcastP99,
          missing,
          errors: [...new Set(errors)].slice(0, 5),
          window: [from, monotonicMs()],
          cores,
        };
        console.log(
          `  ${label}: p50 ${fmt(level.latency.p50)} p95 ${fmt(level.latency.p95)} p99 ${fmt(level.latency.p99)} ms, ${processes
            .map(
              (p) =>
                `${p.name} ${p.connections} conns ${fmt(p.perConnectionKB)} KB RSS/conn (heap ${fmt(p.heapPerConnectionKB)}), ${p.fds} fds`,
            )
            .join(
              '; ',
            )}, missing ${missing}; first ${fmt(level.firstMs)} ms, gateway CPU ${fmt(level.gatewayCpuMs)} ms / clients CPU ${fmt(level.clientsCpuMs)} ms per broadcast`,
        );
        return level;
      };

      // Phase 1: one gateway process.
      const results: Level[] = [];
      for (const level of levels) {
        await clients.connect(a.child.url, system.token, level - a.connections, a.group);
        a.connections = level;
        results.push(await measure(level.toLocaleString('en-US'), [a]));
      }
      const top = results.at(-1);

      // Phase 2: 20,000 connections held by two gateway processes (half each).
      let pair: Level | undefined;
      let pairError: string | undefined;
      try {
        if (a.connections < pairPerProcess) {
          await clients.connect(a.child.url, system.token, pairPerProcess - a.connections, a.group);
          a.connections = pairPerProcess;
        }
        const b = await startGateway(system, 'gateway B', 'b', {});
        gateways.push(b);
        await clients.connect(b.child.url, system.token, pairPerProcess, b.group);
        b.connections = pairPerProcess;
        pair = await measure(`${(2 * pairPerProcess).toLocaleString('en-US')} on 2 processes`, [a, b]);
        await clients.disconnect(b.group);
        await b.child.child.stop();
        gateways.splice(gateways.indexOf(b), 1);
      } catch (error) {
        pairError = error instanceof Error ? error.message : String(error);
        console.log(`  two processes: ${pairError}`);
      }

      // Phase 3: one gateway process at the open-file limit.
      let single: Level | undefined;
      let singleError: string | undefined;
      try {
        await clients.connect(a.child.url, system.token, singleMax - a.connections, a.group);
        a.connections = singleMax;
        single = await measure(`${singleMax.toLocaleString('en-US')} on 1 process`, [a]);
      } catch (error) {
        singleError = error instanceof Error ? error.message : String(error);
        console.log(`  one process at ${singleMax}: ${singleError}`);
      }

      const sample = await clients.sample();
      // The CPU profile is written when the process exits.
      await a.child.child.stop();
      gateways.splice(gateways.indexOf(a), 1);
      const profile = top ? summarizeProfile(dir, ...top.window) : undefined;
      const limit = openFileLimit();
      const all = [...results, ...(pair ? [pair] : []), ...(single ? [single] : [])];
      const latencyOk = (l: Level) => l.latency.p99 < 250 && l.missing === 0 && l.errors.length === 0;
      const memoryOk = (l: Level) => l.processes.every((p) => p.perConnectionKB < 15);
      const perProcess = (l: Level, pick: (p: ProcessFigures) => string) => l.processes.map(pick).join(' / ');
      const markdown = [
        `### 3. ${this.title}`,
        '',
        `Run ${context.date} with \`${context.command}\`. Subscribers: raw \`ws\` clients speaking graphql-transport-ws in ${clients.processes.length} client processes (at most ${PER_CLIENT_PROCESS.toLocaleString('en-US')} connections each), all the same user and operation (\`Fan\` below, \`task\` resolved from the tasks subgraph), so each gateway process shares one upstream and one pipeline and fans each result out. Each gateway alone in its own process (\`--expose-gc\`); subgraphs + embedded Postgres in another. Per level: ${broadcasts} measured broadcasts (after one unmeasured) of one \`updateTask\`; latency = mutation request sent → update received, per subscriber, all broadcasts pooled. Memory = gateway RSS (and JS heap) after a forced full GC with every connection open and idle, minus the same before any connection (gateway A: ${fmt(a.baseline.rss / 1024 ** 2)} MB), divided by that process's connections; \`fds\` = the process's open file descriptors.`,
        '',
        `**Open-file limit.** \`ulimit -Hn\` is **${limit}** here (\`RLIMIT_NOFILE\`, hard; it cannot be raised without \`CAP_SYS_RESOURCE\`), so one process cannot hold 20,000 sockets: every connection is a descriptor in the gateway and another in a client process, and the gateway needs ~40 of its own. 20,000 connections are therefore held by two gateway processes (${pairPerProcess.toLocaleString('en-US')} each, as production runs several gateway instances), and one process is measured at ${singleMax.toLocaleString('en-US')}.`,
        '',
        table(
          [
            'connections',
            'p50 ms',
            'p95 ms',
            'p99 ms',
            'max ms',
            'p99 per broadcast',
            'missing',
            'p99 target',
            'RSS / idle conn',
            'heap / conn',
            'fds',
            'RSS target',
          ],
          all.map((l) => [
            l.label,
            fmt(l.latency.p50),
            fmt(l.latency.p95),
            fmt(l.latency.p99),
            fmt(l.latency.max),
            l.perBroadcastP99.map(fmt).join(', '),
            l.missing,
            l.subscribers >= 10_000 ? `< 250 ms ${verdict(latencyOk(l))}` : '',
            perProcess(l, (p) => `${fmt(p.perConnectionKB)} KB`),
            perProcess(l, (p) => `${fmt(p.heapPerConnectionKB)} KB`),
            perProcess(l, (p) => String(p.fds)),
            l.subscribers >= 10_000 ? `< 15 KB ${verdict(memoryOk(l))}` : '',
          ]),
          ['l', 'r', 'r', 'r', 'r', 'l', 'r', 'l', 'r', 'r', 'r', 'l'],
        ),
        '',
        "**Where the time goes.** *first* = mutation → first subscriber (median over broadcasts: the mutation, the event bus, sync and the gateway resolving the event once, before any fan-out); *resolve* and *write* = the gateway's `delivery_lag_seconds` stages (mean): upstream event → result ready (entity fetch), and result ready → written to every subscribed socket (once per result and gateway process); CPU per broadcast from `/proc` over the measured broadcasts (load-independent, unlike the latencies).",
        '',
        table(
          [
            'connections',
            'first ms',
            'gateway resolve ms',
            'gateway write (all sockets) ms',
            'gateway CPU / broadcast',
            'per subscriber',
            'clients CPU / broadcast',
          ],
          all.map((l) => {
            const stage = (name: string) => l.stages.find((x) => x.stage === name)?.meanMs ?? Number.NaN;
            return [
              l.label,
              fmt(l.firstMs),
              fmt(stage('gateway_resolve')),
              fmt(stage('client_write')),
              `${fmt(l.gatewayCpuMs)} ms`,
              `${fmt((l.gatewayCpuMs * 1000) / l.subscribers)} µs`,
              `${fmt(l.clientsCpuMs)} ms`,
            ];
          }),
          ['l', 'r', 'r', 'r', 'r', 'r', 'r'],
        ),
        '',
        ...(pairError ? [`Two processes: **failed** — \`${pairError}\``, ''] : []),
        ...(singleError ? [`One process at ${singleMax.toLocaleString('en-US')}: **failed** — \`${singleError}\``, ''] : []),
        ...all.map((l) => `CPU during the ${l.label} broadcasts (cores; includes 300 ms pauses): ${cpuLine(l.cores)}  `),
        '',
        ...all.filter((l) => l.errors.length).map((l) => `Errors at ${l.label}: \`${l.errors.join('`, `')}\``),
        '',
        '```graphql',
        FANOUT_SUBSCRIPTION,
        '```',
        '',
        `One delivered message: \`${(sample ?? '').slice(0, 300)}\``,
        '',
        top ? profileMarkdown(`CPU profile, gateway A, broadcasts to ${top.label}`, profile) : '',
      ].join('\n');
      const tenK = results.find((l) => l.subscribers === 10_000);
      return {
        summary: [
          ...results.map((l) => ({
            figure: `3. fan-out to ${l.label} subscribers (one gateway process)`,
            measured: `p50 ${fmt(l.latency.p50)} / p95 ${fmt(l.latency.p95)} / p99 ${fmt(l.latency.p99)} ms${l.missing ? `, ${l.missing} missing` : ''}`,
            target: l.subscribers === 10_000 ? 'p99 < 250 ms' : 'reference',
            ...(l.subscribers === 10_000 ? { met: latencyOk(l) } : {}),
          })),
          ...(tenK
            ? [
                {
                  figure: `3. gateway RSS per idle connection (${tenK.label})`,
                  measured: `${fmt(tenK.processes[0]!.perConnectionKB)} KB (JS heap ${fmt(tenK.processes[0]!.heapPerConnectionKB)} KB)`,
                  target: '< 15 KB',
                  met: memoryOk(tenK),
                },
              ]
            : []),
          {
            figure: `3. 20,000 connections held (two gateway processes; one process cannot: open-file limit ${limit})`,
            measured: pair
              ? `${pair.subscribers.toLocaleString('en-US')} held, ${pair.missing} missing; broadcast to all p99 ${fmt(pair.latency.p99)} ms; ${perProcess(pair, (p) => `${fmt(p.perConnectionKB)} KB`)} RSS/conn`
              : `failed: ${pairError}`,
            target: '20,000 held',
            met: pair !== undefined && pair.subscribers >= 20_000 && pair.missing === 0 && pair.errors.length === 0,
          },
          {
            figure: `3. one gateway process at the open-file limit (${singleMax.toLocaleString('en-US')} connections)`,
            measured: single
              ? `held, ${single.missing} missing; p99 ${fmt(single.latency.p99)} ms; ${fmt(single.processes[0]!.perConnectionKB)} KB RSS/conn`
              : `failed: ${singleError}`,
            target: 'reference',
          },
        ],
        markdown,
        lines: all.map(
          (l) =>
            `${l.label}: p50 ${fmt(l.latency.p50)} p95 ${fmt(l.latency.p95)} p99 ${fmt(l.latency.p99)} ms, ${perProcess(l, (p) => `${fmt(p.perConnectionKB)} KB`)} RSS/idle conn, missing ${l.missing}`,
        ),
        data: { openFileLimit: limit, levels: all, pairError, singleError },
      };
    } finally {
      for (const g of gateways) await g.child.child.stop();
      await clients.stop();
      await system.stop();
    }
  },
};

async function startGateway(system: RunningSystemChild, name: string, group: string, options: { profile?: string }): Promise<Gateway> {
  const child = await startGatewayChild(system, 'ours', options);
  await sleep(200);
  const baseline = await child.child.request<Memory>('memory');
  return { name, group, child, baseline, connections: 0 };
}

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
