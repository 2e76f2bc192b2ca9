/**
 * 4. Event throughput: `createTask` mutations through our gateway from a closed-loop client, every
 * resulting `task.created` event consumed by audit (and notifications, sync and the recurrence
 * worker, which run too); sustained end-to-end rate = mutations accepted ÷ time until the last
 * one is audited. Exactly once: audit entries = distinct event ids = task events in the outbox.
 */
import { join } from 'node:path';
import type { BenchContext, Benchmark, BenchOutput } from '../lib/benchmark.js';
import { procPath, startChild } from '../lib/child.js';
import { profileMarkdown, summarizeProfile } from '../lib/cpuprofile.js';
import {
  profileDir,
  type RunningSystemChild,
  sleep,
  startGatewayChild,
  startSystemChild,
  systemProcesses,
  waitUntil,
} from '../lib/harness.js';
import { CpuMeter, cpuLine, systemCpuMsPerOp } from '../lib/proc-cpu.js';
import { table, verdict } from '../lib/report.js';
import { busIdle } from '../lib/seed.js';
import { fmt, monotonicMs } from '../lib/stats.js';
import type { HttpLoadRequest, HttpLoadResult } from '../procs/http-load.js';

// Variables, as every client sends them: a distinct query text per request would measure the
// gateway's query planner (a plan-cache miss per mutation), not the write path.
const CREATE = JSON.stringify({
  query: 'mutation Create($title: String!) { createTask(input: { title: $title, tags: ["load"] }) { id version } }',
  variables: { title: 'load __N__' },
});
const CONCURRENCY = 32;
/** The issue's target rate (open loop). */
const RATE = 500;

async function auditCounts(system: RunningSystemChild) {
  const [row] = await system.sql<{ entries: number; events: number; outbox: number }>(
    `select (select count(*)::int from audit.audit_entry) as entries,
            (select count(distinct event_id)::int from audit.audit_entry) as events,
            (select count(*)::int from bus.outbox where topic = 'task-events') as outbox`,
  );
  if (!row) throw new Error('no counts');
  return row;
}

/** Averages of `pg_locks` / `pg_stat_activity` samples (every 100 ms) while `until` runs. */
interface LockSample {
  samples: number;
  /** Transactions holding / waiting for an advisory lock (the outbox append lock is the only one taken under load). */
  advisoryHeld: number;
  advisoryWaiting: number;
  /** Backends of this database in a transaction but waiting for their client (Node) to send the next statement. */
  idleInTransaction: number;
  active: number;
}

async function sampleOutboxLock(system: RunningSystemChild, until: Promise<unknown>): Promise<LockSample> {
  let done = false;
  void until.finally(() => {
    done = true;
  });
  const rows: Omit<LockSample, 'samples'>[] = [];
  while (!done) {
    const [row] = await system.sql<Omit<LockSample, 'samples'>>(
      `select (select count(*) from pg_locks where locktype = 'advisory' and granted)::int as "advisoryHeld",
              (select count(*) from pg_locks where locktype = 'advisory' and not granted)::int as "advisoryWaiting",
              (select count(*) from pg_stat_activity where datname = current_database() and state = 'idle in transaction')::int as "idleInTransaction",
              (select count(*) from pg_stat_activity where datname = current_database() and state = 'active')::int as active`,
    );
    if (row) rows.push(row);
    await sleep(100);
  }
  const avg = (k: keyof Omit<LockSample, 'samples'>) => rows.reduce((sum, r) => sum + r[k], 0) / Math.max(1, rows.length);
  return {
    samples: rows.length,
    advisoryHeld: avg('advisoryHeld'),
    advisoryWaiting: avg('advisoryWaiting'),
    idleInTransaction: avg('idleInTransaction'),
    active: avg('active'),
  };
}

export const eventThroughput: Benchmark = {
  name: 'events',
  title: 'Event throughput, mutation → audit, exactly once',
  async run(context: BenchContext): Promise<BenchOutput> {
    const durationMs = context.quick ? 5_000 : 20_000;
    const dirs = { system: profileDir('events', 'system'), gateway: profileDir('events', 'gateway') };
    const system = await startSystemChild({ profile: dirs.system });
    const load = startChild(procPath('http-load'), { name: 'http-load' });
    let gateway: Awaited<ReturnType<typeof startGatewayChild>> | undefined;
    try {
      gateway = await startGatewayChild(system, 'ours', { profile: dirs.gateway });
      await load.ready;
      const base: Omit<HttpLoadRequest, 'durationMs' | 'warmupMs'> = {
        url: gateway.url,
        headers: { authorization: `Bearer ${system.token}` },
        body: CREATE,
        concurrency: CONCURRENCY,
      };
      // Warm-up: JIT, pools, consumers; then wait until everything is consumed.
      await load.request<HttpLoadResult>('run', { ...base, warmupMs: 0, durationMs: 60_000, maxRequests: 300 });
      await waitUntil('the bus to drain after warm-up', () => busIdle(system), 120_000);
      const before = await auditCounts(system);

      const meter = new CpuMeter({ gateway: gateway.child.pid, ...systemProcesses(system), client: load.pid });
      // Load + drain: every process's CPU for the accepted mutations until the last one is audited.
      const wholeMeter = new CpuMeter({ gateway: gateway.child.pid, ...systemProcesses(system), client: load.pid });
      const running = load.request<HttpLoadResult>('run', { ...base, warmupMs: 0, durationMs });
      const locks = await sampleOutboxLock(system, running);
      const result = await running;
      const cores = meter.read();
      const atEnd = await auditCounts(system);
      const accepted = result.requests - result.errors;
      const target = before.entries + accepted;
      let drainedAt = monotonicMs();
      await waitUntil(
        `${target} audit entries`,
        async () => {
          const now = await auditCounts(system);
          drainedAt = monotonicMs();
          return now.entries >= target;
        },
        300_000,
        50,
      );
      const wholeCores = wholeMeter.read();
      const cpuPerMutation = systemCpuMsPerOp(wholeCores, wholeMeter.seconds, accepted);
      await sleep(1_000);
      await waitUntil('the bus to drain', () => busIdle(system), 120_000);
      const afterCapacity = await auditCounts(system);

      // Phase 2, the issue's target: an open loop at RATE/s for 60 s (requests sent on schedule
      // whatever the answers take), then audit lag per event from the rows themselves.
      const pacedMs = context.quick ? 5_000 : 60_000;
      const [{ since } = { since: '' }] = await system.sql<{ since: string }>(`select clock_timestamp()::text as since`);
      const pacedMeter = new CpuMeter({ gateway: gateway.child.pid, ...systemProcesses(system), client: load.pid });
      const paced = await load.request<HttpLoadResult>('run', {
        ...base,
        concurrency: 256,
        warmupMs: 0,
        durationMs: pacedMs,
        rate: RATE,
      });
      const pacedAccepted = paced.requests - paced.errors;
      await waitUntil(
        `${afterCapacity.entries + pacedAccepted} audit entries`,
        async () => (await auditCounts(system)).entries >= afterCapacity.entries + pacedAccepted,
        300_000,
        50,
      );
      const pacedCores = pacedMeter.read();
      const pacedCpuPerMutation = systemCpuMsPerOp(pacedCores, pacedMeter.seconds, pacedAccepted);
      const [auditLag = { p50: Number.NaN, p95: Number.NaN, p99: Number.NaN, max: Number.NaN, n: 0 }] = await system.sql<{
        p50: number;
        p95: number;
        p99: number;
        max: number;
        n: number;
      }>(
        `select percentile_cont(0.5) within group (order by lag) as p50, percentile_cont(0.95) within group (order by lag) as p95,
                percentile_cont(0.99) within group (order by lag) as p99, max(lag) as max, count(*)::int as n
           from (select extract(epoch from recorded_at - occurred_at) * 1000 as lag from audit.audit_entry where occurred_at >= $1::timestamptz) l`,
        [since],
      );
      await waitUntil('the bus to drain', () => busIdle(system), 120_000);
      const after = await auditCounts(system);
      const pacedMet =
        paced.errors === 0 &&
        paced.throughput >= RATE * 0.98 &&
        paced.latency.p95 < 100 &&
        auditLag.p99 < 200 &&
        auditLag.n === pacedAccepted;

      // Phase 3, the bus alone: a burst of task events appended at once (copies of the ones above
      // with new event ids), drained by every task-events consumer group; no mutations meanwhile.
      const burst = context.quick ? 1_000 : 10_000;
      const copies = Math.ceil(burst / Math.min(500, after.outbox));
      const drainMeter = new CpuMeter({ gateway: gateway.child.pid, ...systemProcesses(system), client: load.pid });
      const burstStart = monotonicMs();
      await system.sql(
        `insert into bus.outbox (id, topic, key, type, data, occurred_at, source)
         select n.id, o.topic, o.key, o.type, o.data || jsonb_build_object('eventId', n.id::text), o.occurred_at, o.source
           from (select * from bus.outbox where topic = 'task-events' order by seq desc limit 500) o
           cross join lateral (select gen_random_uuid() as id, o.seq as src from generate_series(1, $1::int)) n
          order by o.seq, n.id
          limit $2`,
        [copies, burst],
      );
      await system.sql(`select pg_notify('bus_outbox', '')`);
      const [{ head } = { head: '0' }] = await system.sql<{ head: string }>(
        `select max(seq)::text as head from bus.outbox where topic = 'task-events'`,
      );
      // When each task-events consumer group reached the burst's last event: the per-group drain rate.
      const groupDoneAt = new Map<string, number>();
      const watchGroups = (async () => {
        while (true) {
          const rows = await system.sql<{ group: string; done: boolean }>(
            `select consumer_group as "group", seq >= $1::bigint as done from bus.consumer_offsets where topic = 'task-events'`,
            [head],
          );
          const now = monotonicMs();
          for (const row of rows) if (row.done && !groupDoneAt.has(row.group)) groupDoneAt.set(row.group, now);
          if (rows.length > 0 && rows.every((r) => r.done)) return rows.map((r) => r.group);
          await sleep(20);
        }
      })();
      let burstDrainedAt = monotonicMs();
      await waitUntil(
        `${burst} burst events audited`,
        async () => {
          const now = await auditCounts(system);
          burstDrainedAt = monotonicMs();
          return now.entries >= after.entries + burst;
        },
        300_000,
        50,
      );
      const groups = await watchGroups;
      const allGroupsAt = Math.max(...groups.map((g) => groupDoneAt.get(g) ?? monotonicMs()));
      const drainCores = drainMeter.read();
      const burstSeconds = (burstDrainedAt - burstStart) / 1000;
      const busRate = burst / burstSeconds;
      const groupRates = groups
        .map((g) => ({ group: g, rate: burst / (((groupDoneAt.get(g) ?? allGroupsAt) - burstStart) / 1000) }))
        .sort((a, b) => a.rate - b.rate);
      const slowestGroupRate = groupRates[0]?.rate ?? 0;
      const drainWallSeconds = (allGroupsAt - burstStart) / 1000;
      // CPU milliseconds per event and per consumer-group delivery, by process, over the whole drain.
      const cpuMsPerEvent = Object.fromEntries(
        Object.entries(drainCores).map(([name, cores]) => [name, (cores * Math.max(burstSeconds, drainWallSeconds) * 1000) / burst]),
      );
      const cpuPerEventLine = Object.keys(cpuMsPerEvent)
        .filter((name) => !['gateway', 'client', 'others'].includes(name))
        .map((name) => `${name} ${fmt(cpuMsPerEvent[name] ?? 0)} ms`)
        .join(' · ');
      await waitUntil('the bus to drain after the burst', () => busIdle(system), 300_000);
      const afterBurst = await auditCounts(system);
      const burstExactlyOnce = afterBurst.entries === afterBurst.events && afterBurst.entries === afterBurst.outbox;

      await gateway.child.stop();
      await system.child.stop(60_000);

      const loadSeconds = result.elapsedMs / 1000;
      const endToEndSeconds = (drainedAt - result.startedAt) / 1000;
      const sustained = accepted / endToEndSeconds;
      const auditedDuringLoad = atEnd.entries - before.entries;
      const lagAtEnd = accepted - auditedDuringLoad;
      const drainSeconds = (drainedAt - result.endedAt) / 1000;
      const exactlyOnce =
        after.entries === after.events && after.entries === after.outbox && after.entries - before.entries === accepted + pacedAccepted;
      // One process per subgraph (`BENCH_PROCESSES=multi`): each service's own profile too.
      const serviceProfiles =
        system.info.processes === 'multi'
          ? Object.entries(system.info.pids).flatMap(([name, pid]) => [
              profileMarkdown(
                `CPU profile, ${name} process, during the paced load (${RATE}/s)`,
                summarizeProfile(join(dirs.system, 'services'), paced.startedAt, paced.endedAt, 12, pid),
              ),
              profileMarkdown(
                `CPU profile, ${name} process, draining the burst (bus alone)`,
                summarizeProfile(join(dirs.system, 'services'), burstStart, burstDrainedAt, 12, pid),
              ),
            ])
          : [];
      const profiles = [
        profileMarkdown('CPU profile, subgraphs process, during the load', summarizeProfile(dirs.system, result.startedAt, result.endedAt)),
        profileMarkdown(
          'CPU profile, subgraphs process, draining after the load',
          summarizeProfile(dirs.system, result.endedAt, drainedAt),
        ),
        profileMarkdown('CPU profile, gateway process, during the load', summarizeProfile(dirs.gateway, result.startedAt, result.endedAt)),
        profileMarkdown(
          'CPU profile, subgraphs process, draining the burst (bus alone)',
          summarizeProfile(dirs.system, burstStart, burstDrainedAt),
        ),
        profileMarkdown(
          `CPU profile, gateway process, during the paced load (${RATE}/s)`,
          summarizeProfile(dirs.gateway, paced.startedAt, paced.endedAt),
        ),
        ...serviceProfiles,
      ];
      const markdown = [
        `### 4. ${this.title}`,
        '',
        `Run ${context.date} with \`${context.command}\`. \`createTask\` (with variables, as clients send it) through our gateway (own process) from an undici client (own process); subgraphs (tasks, audit, notifications, sync — all consuming \`task-events\`) ${system.info.processes === 'multi' ? 'each in its own process (`BENCH_PROCESSES=multi`, as `npm start` runs them)' : 'in one process'} + embedded Postgres (durable), embedded bus. After a 300-mutation warm-up: *capacity* = closed loop, **${CONCURRENCY} connections**, ${durationMs / 1000} s; *paced* = the issue's target, an open loop offering ${RATE} mutations/s for ${pacedMs / 1000} s (latency from each request's scheduled send time), audit lag from the audit rows (\`recorded_at\`, the clock when the row was written, − \`occurred_at\`); *bus alone* = a burst appended straight to the outbox, drained by every group, no mutations meanwhile.`,
        '',
        table(
          ['figure', 'measured', 'target', ''],
          [
            [
              `paced: ${RATE} mutations/s offered for ${pacedMs / 1000} s (open loop), accepted / errors`,
              `**${fmt(paced.throughput)}/s** (${pacedAccepted} / ${paced.errors})`,
              `≥ ${RATE}/s sustained`,
              verdict(paced.errors === 0 && paced.throughput >= RATE * 0.98),
            ],
            [
              "paced: mutation latency p50 / p95 / p99 (from each request's scheduled time)",
              `${fmt(paced.latency.p50)} / **${fmt(paced.latency.p95)}** / ${fmt(paced.latency.p99)} ms`,
              'p95 < 100 ms',
              verdict(paced.latency.p95 < 100),
            ],
            [
              'paced: audit lag per event (occurred → audit row written) p50 / p95 / p99 / max',
              `${fmt(auditLag.p50)} / ${fmt(auditLag.p95)} / **${fmt(auditLag.p99)}** / ${fmt(auditLag.max)} ms (${auditLag.n} events)`,
              'p99 < 200 ms',
              verdict(auditLag.p99 < 200 && auditLag.n === pacedAccepted),
            ],
            [
              'paced: CPU per mutation, all system processes, load + drain',
              `**${fmt(pacedCpuPerMutation)} ms** (cores ${cpuLine(pacedCores)})`,
              'drive down',
              '',
            ],
            [
              `capacity: closed loop, ${CONCURRENCY} connections, sustained end to end (accepted ÷ first mutation → last audited)`,
              `**${fmt(sustained)} mutations/s**`,
              '(capacity)',
              '',
            ],
            [
              'capacity: mutations accepted / errors',
              `${accepted} / ${result.errors} in ${fmt(loadSeconds)} s = ${fmt(result.throughput)}/s`,
              '',
              '',
            ],
            [
              'capacity: mutation latency p50 / p95 / p99',
              `${fmt(result.latency.p50)} / ${fmt(result.latency.p95)} / ${fmt(result.latency.p99)} ms`,
              '',
              '',
            ],
            [
              'capacity: audited during the load',
              `${auditedDuringLoad} (${fmt(auditedDuringLoad / loadSeconds)}/s), lag at the end ${lagAtEnd}`,
              '',
              '',
            ],
            [
              `capacity: CPU per mutation, all system processes (gateway, subgraphs${system.info.processes === 'multi' ? ' each in its own process' : ' in one process'}, Postgres), load + drain`,
              `**${fmt(cpuPerMutation)} ms** (cores ${cpuLine(wholeCores)})`,
              'drive down',
              '',
            ],
            [
              'capacity: drain after the load',
              `${fmt(drainSeconds)} s${drainSeconds > 0.05 ? ` (${fmt(lagAtEnd / drainSeconds)}/s)` : ''}`,
              '',
              '',
            ],
            [
              `bus alone: ${burst.toLocaleString('en-US')} task events appended at once → all audited`,
              `**${fmt(busRate)} events/s** (${fmt(burstSeconds)} s; cores ${cpuLine(drainCores)})`,
              '(bus capacity)',
              '',
            ],
            [
              `bus alone, per consumer group (${groups.length} groups on task-events, ${system.info.processes === 'multi' ? 'each service in its own process' : 'all in one process'})`,
              groupRates.map((g) => `${g.group} ${fmt(g.rate)}/s`).join(' · '),
              '≥ 2,000/s each',
              verdict(slowestGroupRate >= 2000),
            ],
            ['bus alone, CPU per event (whole drain, all groups)', cpuPerEventLine, '', ''],
            [
              'bus alone, exactly once after the burst',
              `${afterBurst.entries} = ${afterBurst.events} = ${afterBurst.outbox}`,
              'equal',
              verdict(burstExactlyOnce),
            ],
            [
              'exactly once: audit entries = distinct event ids = task events in the outbox; new entries = accepted (capacity + paced)',
              `${after.entries} = ${after.events} = ${after.outbox}; ${after.entries - before.entries} = ${accepted + pacedAccepted}`,
              'equal',
              verdict(exactlyOnce),
            ],
          ],
        ),
        '',
        ...(result.firstError ? [`First error: \`${result.firstError}\``, ''] : []),
        ...profiles,
      ].join('\n');
      return {
        summary: [
          {
            figure: `4. ${RATE} mutations/s for ${pacedMs / 1000} s through the gateway, every one audited`,
            measured: `${fmt(paced.throughput)}/s accepted, p95 ${fmt(paced.latency.p95)} ms, audit lag p99 ${fmt(auditLag.p99)} ms; ${fmt(pacedCpuPerMutation)} CPU ms/mutation`,
            target: `≥ ${RATE}/s, p95 < 100 ms, audit lag p99 < 200 ms`,
            met: pacedMet,
          },
          {
            figure: '4. capacity: closed loop end to end, mutation → audited',
            measured: `${fmt(sustained)}/s (mutations ${fmt(result.throughput)}/s, p50 ${fmt(result.latency.p50)} / p95 ${fmt(result.latency.p95)} / p99 ${fmt(result.latency.p99)} ms)`,
            target: 'reference',
          },
          {
            figure: '4. bus alone: burst of task events drained by audit (+ the other consumer groups)',
            measured: `${fmt(busRate)}/s`,
            target: 'reference',
          },
          {
            figure: `4. bus alone: ${burst.toLocaleString('en-US')}-event burst, slowest consumer group`,
            measured: `${fmt(slowestGroupRate)}/s (${groupRates.map((g) => `${g.group} ${fmt(g.rate)}`).join(', ')}); CPU/event ${cpuPerEventLine}`,
            target: '≥ 2,000/s per group',
            met: slowestGroupRate >= 2000,
          },
          {
            figure: '4. every event audited exactly once',
            measured: `${after.entries} entries = ${after.events} event ids = ${after.outbox} outbox events`,
            target: 'equal',
            met: exactlyOnce && burstExactlyOnce,
          },
        ],
        markdown,
        lines: [
          `paced ${RATE}/s: accepted ${fmt(paced.throughput)}/s (${paced.errors} errors), p50 ${fmt(paced.latency.p50)} p95 ${fmt(paced.latency.p95)} p99 ${fmt(paced.latency.p99)} ms; audit lag p50 ${fmt(auditLag.p50)} p99 ${fmt(auditLag.p99)} ms (${auditLag.n}); ${fmt(pacedCpuPerMutation)} CPU ms/mutation → ${pacedMet ? 'met' : 'MISSED'}`,
          `paced cores: ${cpuLine(pacedCores)}`,
          `capacity (closed loop ${CONCURRENCY}): ${fmt(sustained)} mutations/s end to end`,
          `accepted ${accepted} (${fmt(result.throughput)}/s, p50 ${fmt(result.latency.p50)} p99 ${fmt(result.latency.p99)} ms), lag at end ${lagAtEnd}, drain ${fmt(drainSeconds)} s`,
          `cores: ${cpuLine(cores)}`,
          `CPU per mutation (all system processes, ${system.info.processes}, load + drain): ${fmt(cpuPerMutation)} ms`,
          `advisory locks (no outbox append lock since the lock-free log): held ${fmt(locks.advisoryHeld)}, waiting ${fmt(locks.advisoryWaiting)}, idle in tx ${fmt(locks.idleInTransaction)}`,
          `bus alone: ${burst} events drained in ${fmt(burstSeconds)} s = ${fmt(busRate)}/s; exactly once ${burstExactlyOnce}`,
          `per group: ${groupRates.map((g) => `${g.group} ${fmt(g.rate)}/s`).join(', ')}; CPU per event: ${cpuPerEventLine}`,
          `exactly once: ${exactlyOnce} (${after.entries}/${after.events}/${after.outbox})`,
        ],
        data: {
          result,
          paced,
          pacedCores,
          pacedCpuPerMutation,
          auditLag,
          cores,
          wholeCores,
          cpuPerMutation,
          processes: system.info.processes,
          busRate,
          burstSeconds,
          groupRates,
          cpuMsPerEvent,
          drainCores,
          afterBurst,
          before,
          atEnd,
          after,
          sustained,
          drainSeconds,
          lagAtEnd,
          exactlyOnce,
        },
      };
    } finally {
      await gateway?.child.stop();
      await load.stop();
      await system.stop();
    }
  },
};
