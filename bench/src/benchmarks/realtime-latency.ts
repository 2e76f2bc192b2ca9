/**
 * 2. Mutation → subscriber latency through the gateway (embedded bus): one graphql-ws subscriber
 * of `taskUpdates` (with the task resolved across subgraphs) and an open-loop sender of
 * `updateTask` mutations at 50, 200 and 500/s, both in one client process; the latency of a
 * change is from its mutation request being sent to its update arriving at the subscriber.
 */
import type { BenchContext, Benchmark, BenchOutput } from '../lib/benchmark.js';
import { procPath, startChild } from '../lib/child.js';
import { profileMarkdown, summarizeProfile } from '../lib/cpuprofile.js';
import { postGraphQL, profileDir, startGatewayChild, startSystemChild, systemProcesses } from '../lib/harness.js';
import { CpuMeter, cpuLine, systemCpuMsPerOp } from '../lib/proc-cpu.js';
import { table, verdict } from '../lib/report.js';
import { seedTasks } from '../lib/seed.js';
import { measureStages, STAGE_COLUMNS, type StageLag, stageCells, stageLine } from '../lib/stage-lag.js';
import { fmt } from '../lib/stats.js';
import type { RateRequest, RateResult } from '../procs/ws-clients.js';
import { backlogMarkdown, measureBacklog } from './realtime-backlog.js';

export const SUBSCRIPTION = `subscription Live($after: Cursor) {
  taskUpdates(after: $after) { cursor op taskId version changedFields task { id title status version } }
}`;
/** The same feed straight from sync (no entity fetch), to split the latency. */
const DIRECT_SUBSCRIPTION = 'subscription Direct($after: Cursor) { taskUpdates(after: $after) { cursor op taskId version } }';
const RATES = [50, 200, 500];
const TASKS = 500;

export const realtimeLatency: Benchmark = {
  name: 'realtime',
  title: 'Mutation → subscriber latency through the gateway (embedded bus)',
  async run(context: BenchContext): Promise<BenchOutput> {
    const durationMs = context.quick ? 3_000 : 15_000;
    const warmupMs = context.quick ? 1_000 : 2_000;
    const dirs = { system: profileDir('realtime', 'system'), gateway: profileDir('realtime', 'gateway') };
    const system = await startSystemChild({ profile: dirs.system });
    const clients = startChild(procPath('ws-clients'), { name: 'ws-clients' });
    let gateway: Awaited<ReturnType<typeof startGatewayChild>> | undefined;
    try {
      const tasks = await seedTasks(system, { tasks: TASKS, reminders: 0, updates: 0 });
      gateway = await startGatewayChild(system, 'ours', { profile: dirs.gateway });
      await clients.ready;
      const results: RateResult[] = [];
      const cores: Record<string, number>[] = [];
      const stages: StageLag[][] = [];
      const cpuPerMutation: number[] = [];
      // Issue 13: replay of the retention window, and what causal freshness adds. Measured first, on
      // a system with no backlog: after the saturating rate steps the consumers are seconds behind
      // and the freshness runs would measure that queue, not the freshness wait.
      const backlog = await measureBacklog({ system, gateway, clients, tasks, warmupMs, durationMs: Math.min(durationMs, 10_000) });
      for (const rate of RATES) {
        // Resume point read before subscribing: nothing between is missed (ARCHITECTURE §6).
        const retention = await postGraphQL<{ syncRetention: { latestCursor: string | null } }>(
          gateway.url,
          system.token,
          '{ syncRetention { latestCursor } }',
        );
        if (retention.errors) throw new Error(`syncRetention: ${JSON.stringify(retention.errors)}`);
        const request: RateRequest = {
          url: gateway.url,
          token: system.token,
          subscription: SUBSCRIPTION,
          variables: { after: retention.data?.syncRetention.latestCursor ?? null },
          tasks: tasks.map((t) => ({ id: t.id, version: t.version })),
          rate,
          warmupMs,
          durationMs,
          direct: {
            url: system.info.subgraphs.sync ?? '',
            internalToken: system.internalToken,
            subscription: DIRECT_SUBSCRIPTION,
            variables: { after: retention.data?.syncRetention.latestCursor ?? null },
          },
        };
        const meter = new CpuMeter({ gateway: gateway.child.pid, ...systemProcesses(system), client: clients.pid });
        // Per-stage delivery lag (issue 15 item 5): sync observes consumer + sync push, the gateway the rest.
        const stageLag = await measureStages([system.info.subgraphs.sync ?? '', gateway.url]);
        const result = await clients.request<RateResult>('rate', request);
        cores.push(meter.read());
        cpuPerMutation.push(systemCpuMsPerOp(cores.at(-1)!, meter.seconds, result.sentTotal));
        stages.push(await stageLag());
        results.push(result);
        // Later rates continue from the versions this run reached.
        const versions = await system.sql<{ id: string; version: number }>('select id::text, version from tasks.task where user_id = $1', [
          'bench-user',
        ]);
        const byId = new Map(versions.map((v) => [v.id, v.version]));
        for (const t of tasks) t.version = byId.get(t.id) ?? t.version;
        console.log(
          `  ${rate}/s: p50 ${fmt(result.latency.p50)} p95 ${fmt(result.latency.p95)} p99 ${fmt(result.latency.p99)} ms, sent ${result.sent}, missing ${result.missing}, errors ${result.errors.length}`,
        );
        console.log(`    stages p50/p99 ms: ${stageLine(stages.at(-1) ?? [])}`);
        console.log(
          `    CPU per mutation, all system processes (${system.info.processes}): ${fmt(cpuPerMutation.at(-1) ?? Number.NaN)} ms`,
        );
      }
      const backlogReport = backlogMarkdown(backlog);
      await gateway.child.stop();
      await system.child.stop(60_000);

      const ok = (r: RateResult) => r.latency.p50 < 10 && r.latency.p99 < 50 && r.missing === 0 && r.errors.length === 0;
      const last = results.at(-1);
      const profiles = last
        ? [
            profileMarkdown(`CPU profile, gateway process, ${last.rate}/s`, summarizeProfile(dirs.gateway, last.startedAt, last.endedAt)),
            profileMarkdown(`CPU profile, subgraphs process, ${last.rate}/s`, summarizeProfile(dirs.system, last.startedAt, last.endedAt)),
          ]
        : [];
      const markdown = [
        `### 2. ${this.title}`,
        '',
        `Run ${context.date} with \`${context.command}\`. One subscriber (\`Live\` below: \`taskUpdates(after: latestCursor)\` with \`task\` resolved from the tasks subgraph per event) and an open-loop sender of \`updateTask\` over HTTP, round-robin over ${TASKS} tasks, in one client process; our gateway in its own process; subgraphs + embedded Postgres (durable) in a third. Per rate: ${warmupMs / 1000} s warm-up + ${durationMs / 1000} s measured. Latency = mutation request sent → update received by the subscriber. *Mutation* = the mutation's own HTTP round trip; *sync push* = the same update received by a second subscriber connected straight to the sync subgraph (internal token, no \`task\` field), so the gateway's share is the difference. The four stage columns are the services' own \`delivery_lag_seconds{stage}\` histograms over the rate step, warm-up included (quantiles to the bucket bounds; 10,000 means ≥ 10 s): *stage: consumer* = event occurred → stored by sync's consumer, *stage: sync push* = published live → taken by a subscription's graphql-ws stream (both subscribers), *gateway resolve* = upstream event → client result ready (entity fetches), *client write* = result ready → taken by graphql-ws to write to the client's socket. *CPU ms / mutation (system)* = CPU of the gateway, subgraph and Postgres processes over the rate step (warm-up included) per mutation sent; the subgraphs ran ${system.info.processes === 'multi' ? 'each in its own process (`BENCH_PROCESSES=multi`, as `npm start` runs them)' : 'in one process (`BENCH_PROCESSES=multi` runs each in its own, as `npm start` does)'}.`,
        '',
        table(
          [
            'mutations/s',
            'achieved/s',
            'p50 ms',
            'p95 ms',
            'p99 ms',
            'max ms',
            'mutation p50 / p99 ms',
            'sync push p50 / p99 ms',
            ...STAGE_COLUMNS,
            'missing',
            'target p50 < 10, p99 < 50',
            'CPU ms / mutation (system)',
            'cores used',
          ],
          results.map((r, i) => [
            r.rate,
            fmt(r.achievedRate),
            fmt(r.latency.p50),
            fmt(r.latency.p95),
            fmt(r.latency.p99),
            fmt(r.latency.max),
            `${fmt(r.mutation.p50)} / ${fmt(r.mutation.p99)}`,
            r.direct ? `${fmt(r.direct.p50)} / ${fmt(r.direct.p99)}` : 'n/a',
            ...stageCells(stages[i]),
            r.missing,
            verdict(ok(r)),
            fmt(cpuPerMutation[i] ?? Number.NaN),
            cpuLine(cores[i] ?? {}),
          ]),
          ['r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', ...STAGE_COLUMNS.map(() => 'r' as const), 'r', 'l', 'r', 'l'],
        ),
        '',
        ...results.filter((r) => r.errors.length).map((r) => `Errors at ${r.rate}/s: \`${r.errors.join('`, `')}\``),
        '',
        '```graphql',
        SUBSCRIPTION,
        '```',
        '',
        ...profiles,
        '',
        ...backlogReport.markdown,
      ].join('\n');
      return {
        summary: results
          .map((r) => ({
            figure: `2. mutation → subscriber at ${r.rate}/s`,
            measured: `p50 ${fmt(r.latency.p50)} / p95 ${fmt(r.latency.p95)} / p99 ${fmt(r.latency.p99)} ms (${fmt(r.achievedRate)}/s sent${r.missing ? `, ${r.missing} missing` : ''})`,
            target: 'p50 < 10 ms, p99 < 50 ms',
            met: ok(r),
          }))
          .concat(backlogReport.summary),
        markdown,
        lines: results.map(
          (r) =>
            `${r.rate}/s: p50 ${fmt(r.latency.p50)} p95 ${fmt(r.latency.p95)} p99 ${fmt(r.latency.p99)} ms (mutation p50 ${fmt(r.mutation.p50)}), missing ${r.missing} → ${ok(r) ? 'met' : 'MISSED'}`,
        ),
        data: { results, cores, stages, cpuPerMutation, processes: system.info.processes, backlog },
      };
    } finally {
      await gateway?.child.stop();
      await clients.stop();
      await system.stop();
    }
  },
};
