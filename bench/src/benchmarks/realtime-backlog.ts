/**
 * The realtime benchmark's backlog and freshness figures (issue 13), run by `realtime-latency.ts`
 * on its system: (a) replay throughput of a resume over the whole retention window (up to 1,000
 * updates of one user) through the gateway, with a light selection and with `task` resolved per
 * event; (b) what causal freshness adds to delivery latency: the same open-loop run with
 * `task.history` selected, through a gateway with it on and one with it off.
 */
import type { Child } from '../lib/child.js';
import { postGraphQL, type RunningSystemChild, startGatewayChild } from '../lib/harness.js';
import { CpuMeter, cpuLine } from '../lib/proc-cpu.js';
import { table, verdict } from '../lib/report.js';
import { fmt } from '../lib/stats.js';
import type { RateRequest, RateResult, ReplayRequest, ReplayResult } from '../procs/ws-clients.js';

const LIGHT = 'subscription Light($after: Cursor) { taskUpdates(after: $after) { cursor op taskId version } }';
const RESOLVED = `subscription Resolved($after: Cursor) {
  taskUpdates(after: $after) { cursor op taskId version task { id title status version } }
}`;
export const FRESH = `subscription Fresh($after: Cursor) {
  taskUpdates(after: $after) { cursor taskId version task { history(first: 5) { edges { node { version } } } } }
}`;
const FRESH_RATE = 100;

export interface BacklogFigures {
  replays: { name: string; result: ReplayResult; cpu: Record<string, number>; wallS: number }[];
  freshness: { mode: 'on' | 'off'; result: RateResult; cpu: Record<string, number> }[];
}

export interface BacklogDeps {
  system: RunningSystemChild;
  gateway: { url: string; child: { pid: number } };
  clients: Child;
  tasks: { id: string; version: number }[];
  warmupMs: number;
  durationMs: number;
}

async function cursor(gatewayUrl: string, token: string, which: 'oldestCursor' | 'latestCursor'): Promise<string | null> {
  const res = await postGraphQL<{ syncRetention: Record<string, string | null> }>(gatewayUrl, token, `{ syncRetention { ${which} } }`);
  if (res.errors) throw new Error(`syncRetention: ${JSON.stringify(res.errors)}`);
  return res.data?.syncRetention[which] ?? null;
}

/** Runs both phases; the gateway with freshness off is started and stopped here. */
export async function measureBacklog(deps: BacklogDeps): Promise<BacklogFigures> {
  const { system, gateway, clients } = deps;
  const named = { gateway: gateway.child.pid, subgraphs: system.child.pid, client: clients.pid };
  const figures: BacklogFigures = { replays: [], freshness: [] };

  // (a) Resume after the oldest retained cursor: the whole window (the earlier rate runs wrote more).
  for (const [name, subscription] of [
    ['light (cursor op taskId version)', LIGHT],
    ['task resolved (tasks subgraph per event)', RESOLVED],
  ] as const) {
    const after = await cursor(gateway.url, system.token, 'oldestCursor');
    const request: ReplayRequest = {
      url: gateway.url,
      token: system.token,
      subscription,
      variables: { after },
      expected: 1_000,
      quietMs: 2_000,
    };
    const meter = new CpuMeter(named);
    const result = await clients.request<ReplayResult>('replay', request);
    const wallS = (result.lastAt - result.subscribedAt) / 1000;
    figures.replays.push({ name, result, cpu: meter.read(), wallS });
    console.log(`  replay ${name}: ${result.count} updates in ${fmt(wallS * 1000)} ms (${fmt(result.count / wallS)}/s)`);
  }

  // (b) Freshness on (this gateway) and off (a second gateway), same load, `history` selected.
  const off = await startGatewayChild(system, 'ours', { subscriptions: { causalFreshness: false } });
  try {
    for (const [mode, url, pid] of [
      ['on', gateway.url, gateway.child.pid],
      ['off', off.url, off.child.pid],
    ] as const) {
      const after = await cursor(url, system.token, 'latestCursor');
      const request: RateRequest = {
        url,
        token: system.token,
        subscription: FRESH,
        variables: { after },
        tasks: deps.tasks,
        rate: FRESH_RATE,
        warmupMs: deps.warmupMs,
        durationMs: deps.durationMs,
      };
      const meter = new CpuMeter({ gateway: pid, subgraphs: system.child.pid, client: clients.pid });
      const result = await clients.request<RateResult>('rate', request);
      figures.freshness.push({ mode, result, cpu: meter.read() });
      const versions = await system.sql<{ id: string; version: number }>('select id::text, version from tasks.task where user_id = $1', [
        'bench-user',
      ]);
      const byId = new Map(versions.map((v) => [v.id, v.version]));
      for (const t of deps.tasks) t.version = byId.get(t.id) ?? t.version;
      console.log(
        `  freshness ${mode}: p50 ${fmt(result.latency.p50)} p99 ${fmt(result.latency.p99)} ms, stale histories ${result.stale} of ${result.sent}`,
      );
    }
  } finally {
    await off.child.stop();
  }
  return figures;
}

/** CPU ms per update of each process over a replay (cores × wall / updates). */
const cpuPerUpdate = (cpu: Record<string, number>, wallS: number, count: number) =>
  ['gateway', 'subgraphs', 'postgres', 'client'].map((p) => `${p} ${fmt(((cpu[p] ?? 0) * wallS * 1000) / Math.max(1, count))}`).join(', ');

export function backlogMarkdown(figures: BacklogFigures): {
  markdown: string[];
  summary: { figure: string; measured: string; target: string; met: boolean }[];
} {
  const replayOk = (r: BacklogFigures['replays'][number]) => r.result.count >= 999 && r.result.errors.length === 0;
  const on = figures.freshness.find((f) => f.mode === 'on');
  const off = figures.freshness.find((f) => f.mode === 'off');
  const added =
    on && off ? { p50: on.result.latency.p50 - off.result.latency.p50, p99: on.result.latency.p99 - off.result.latency.p99 } : undefined;
  const markdown = [
    '#### Replay of the retention window (resume after `syncRetention.oldestCursor`)',
    '',
    'One graphql-ws client resumes after the oldest retained cursor of the benchmark user (the retention window: the newest 1,000 updates) and reads at full speed; throughput = updates received / (last arrival − subscribe sent). Target: the whole window, no error, no close (the figure itself has no target; ≥ 1,000/s is the aim).',
    '',
    table(
      ['selection', 'updates', 'wall ms', 'updates/s', 'CPU ms per update', 'errors / closes', 'complete, no error', 'cores used'],
      figures.replays.map((r) => [
        r.name,
        r.result.count,
        fmt(r.wallS * 1000),
        fmt(r.result.count / r.wallS),
        cpuPerUpdate(r.cpu, r.wallS, r.result.count),
        r.result.errors.length ? r.result.errors.join('; ').slice(0, 200) : 'none',
        verdict(replayOk(r)),
        cpuLine(r.cpu),
      ]),
      ['l', 'r', 'r', 'r', 'l', 'l', 'l', 'l'],
    ),
    '',
    `#### Causal freshness: latency it adds (${FRESH_RATE} updates/s, \`task.history\` selected)`,
    '',
    "The same open-loop run through two gateways on the same subgraphs: one passing each event's version to audit (audit answers `history` once its consumer recorded that version, at most 2 s), one with `subscriptions.causalFreshness: false`. *Stale* = results whose `history` lacks the event's own version.",
    '',
    table(
      ['freshness', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'stale histories', 'missing', 'cores used'],
      figures.freshness.map((f) => [
        f.mode,
        fmt(f.result.latency.p50),
        fmt(f.result.latency.p95),
        fmt(f.result.latency.p99),
        fmt(f.result.latency.max),
        `${f.result.stale} of ${f.result.sent}`,
        f.result.missing,
        cpuLine(f.cpu),
      ]),
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
    ),
    '',
    added ? `Added by freshness: p50 ${fmt(added.p50)} ms, p99 ${fmt(added.p99)} ms (on − off, same run).` : '',
    '',
    '```graphql',
    FRESH,
    '```',
  ];
  const summary = [
    ...figures.replays.map((r) => ({
      figure: `2b. replay of the retention window, ${r.name}`,
      measured: `${r.result.count} updates, ${fmt(r.result.count / r.wallS)}/s`,
      target: 'all of it, no error or close',
      met: replayOk(r),
    })),
    ...(added && on
      ? [
          {
            figure: '2c. latency added by causal freshness',
            measured: `p50 +${fmt(added.p50)} ms, p99 +${fmt(added.p99)} ms; stale histories ${on.result.stale} (off: ${off?.result.stale ?? 'n/a'})`,
            target: 'no stale history',
            met: on.result.stale === 0,
          },
        ]
      : []),
  ];
  return { markdown, summary };
}
