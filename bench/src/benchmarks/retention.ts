/**
 * 7. Bus retention soak: the system (embedded bus, one process per service) with a short retention
 * under a steady open-loop `createTask` load through our gateway, plus a trickle of malformed events
 * (dead letters). Every 10 s: rows and `pg_total_relation_size` of `bus.outbox`,
 * `bus.processed_events`, `bus.dead_letters`, the events appended so far and the consumer lag.
 * Midway the audit process is stopped (SIGSTOP) for longer than the retention: its backlog must be
 * kept (and show as lag), then consumed once it runs again. Mutations overlapping a prune statement
 * are compared with the others (pruning must not block appends).
 */
import pg from 'pg';
import type { BenchContext, Benchmark, BenchOutput } from '../lib/benchmark.js';
import { procPath, startChild } from '../lib/child.js';
import { type RunningSystemChild, sleep, startGatewayChild, startSystemChild, waitUntil } from '../lib/harness.js';
import { table, verdict } from '../lib/report.js';
import { fmt, monotonicMs, summarize } from '../lib/stats.js';
import type { HttpLoadRequest, HttpLoadResult } from '../procs/http-load.js';

const CREATE = JSON.stringify({
  query: 'mutation Create($title: String!) { createTask(input: { title: $title, tags: ["soak"] }) { id version } }',
  variables: { title: 'soak __N__' },
});
const TABLES = ['outbox', 'processed_events', 'dead_letters'] as const;
const BAND = 0.2;
/**
 * Mutations per second (`BENCH_SOAK_RATE`): one the slowest consumer group keeps up with on this
 * shared 2-core box — at 50/s the notifications group drained about 30 events/s and its growing
 * backlog (rightly kept, as lag) was what grew the outbox.
 */
const RATE = Number(process.env.BENCH_SOAK_RATE ?? 20);

interface Sample {
  /** Seconds since the load started. */
  t: number;
  appended: number;
  rows: Record<(typeof TABLES)[number], number>;
  bytes: Record<(typeof TABLES)[number], number>;
  /** Outbox rows older than the retention (kept because a group has not consumed them). */
  pastRetention: number;
  /** Outbox rows older than the retention that every group of their topic has consumed: what the pruner has yet to remove. */
  prunable: number;
  /** Events after each group's offset. */
  lag: Record<string, number>;
  auditPaused: boolean;
}

async function sample(sql: pg.Client, t: number, retentionSeconds: number, auditPaused: boolean): Promise<Sample> {
  const { rows } = await sql.query<Record<string, string>>(
    `select (select last_value from bus.outbox_seq_seq)::text as appended,
            (select count(*) from bus.outbox)::text as outbox,
            (select count(*) from bus.processed_events)::text as processed_events,
            (select count(*) from bus.dead_letters)::text as dead_letters,
            pg_total_relation_size('bus.outbox')::text as outbox_bytes,
            pg_total_relation_size('bus.processed_events')::text as processed_events_bytes,
            pg_total_relation_size('bus.dead_letters')::text as dead_letters_bytes,
            (select count(*) from bus.outbox where occurred_at < now() - make_interval(secs => $1))::text as past,
            (select count(*) from bus.outbox o where o.occurred_at < now() - make_interval(secs => $1)
                and o.seq <= coalesce((select min(c.seq) from bus.consumer_offsets c where c.topic = o.topic), 0))::text as prunable`,
    [retentionSeconds],
  );
  const r = rows[0]!;
  const lag = await sql.query<{ group: string; lag: string }>(
    `select c.consumer_group || ' (' || c.topic || ')' as group,
            (select count(*) from bus.outbox o where o.topic = c.topic and o.seq > c.seq)::text as lag
       from bus.consumer_offsets c order by 1`,
  );
  return {
    t,
    appended: Number(r.appended),
    rows: { outbox: Number(r.outbox), processed_events: Number(r.processed_events), dead_letters: Number(r.dead_letters) },
    bytes: {
      outbox: Number(r.outbox_bytes),
      processed_events: Number(r.processed_events_bytes),
      dead_letters: Number(r.dead_letters_bytes),
    },
    pastRetention: Number(r.past),
    prunable: Number(r.prunable),
    lag: Object.fromEntries(lag.rows.map((l) => [l.group, Number(l.lag)])),
    auditPaused,
  };
}

/**
 * Stops `pid` (SIGSTOP) while it holds no open writing transaction: a process frozen inside one
 * would hold the log horizon, and so every group, back. Retries until none of its sessions is stuck.
 */
async function pauseIdle(sql: pg.Client, pid: number): Promise<number> {
  for (let attempt = 1; attempt <= 50; attempt++) {
    process.kill(pid, 'SIGSTOP');
    await sleep(300);
    const { rows } = await sql.query<{ n: number }>(
      `select count(*)::int as n from pg_stat_activity
        where datname = current_database() and state like 'idle in transaction%' and backend_xid is not null
          and now() - state_change > interval '250 milliseconds'`,
    );
    if ((rows[0]?.n ?? 0) === 0) return attempt;
    process.kill(pid, 'SIGCONT');
    await sleep(50 + Math.random() * 100);
  }
  throw new Error('could not stop the audit process outside a transaction');
}

/** Polls for running prune statements (`delete from bus.…`) every `everyMs` until `done`; returns the merged windows (monotonic ms). */
async function watchPrunes(sql: pg.Client, done: () => boolean, everyMs = 20): Promise<[number, number][]> {
  const windows: [number, number][] = [];
  while (!done()) {
    const before = monotonicMs();
    const { rows } = await sql.query<{ n: number }>(
      `select count(*)::int as n from pg_stat_activity
        where state = 'active' and query like 'delete from bus.%' and pid <> pg_backend_pid()`,
    );
    const now = monotonicMs();
    if ((rows[0]?.n ?? 0) > 0) {
      const last = windows.at(-1);
      if (last && before - everyMs * 3 <= last[1]) last[1] = now;
      else windows.push([before - everyMs, now]);
    }
    await sleep(Math.max(0, everyMs - (monotonicMs() - before)));
  }
  return windows;
}

async function auditLag(sql: pg.Client): Promise<number> {
  const { rows } = await sql.query<{ n: number }>(
    `select count(*)::int as n from bus.outbox o
      where o.topic = 'task-events' and o.seq > (select seq from bus.consumer_offsets where consumer_group = 'audit' and topic = 'task-events')`,
  );
  return rows[0]?.n ?? -1;
}

async function auditCount(system: RunningSystemChild): Promise<{ entries: number; events: number }> {
  const [row] = await system.sql<{ entries: number; events: number }>(
    'select count(*)::int as entries, count(distinct event_id)::int as events from audit.audit_entry',
  );
  return row ?? { entries: 0, events: 0 };
}

const kb = (bytes: number) => `${Math.round(bytes / 1024).toLocaleString('en-US')} kB`;

/** Whether every value is within ±band of the median. */
function withinBand(values: number[], band = BAND): { ok: boolean; median: number; min: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  const min = sorted[0] ?? 0;
  const max = sorted.at(-1) ?? 0;
  return { ok: values.length > 0 && min >= median * (1 - band) && max <= median * (1 + band), median, min, max };
}

export const retentionSoak: Benchmark = {
  name: 'retention',
  title: 'Bus retention soak: table sizes under steady load, a stopped consumer group',
  async run(context: BenchContext): Promise<BenchOutput> {
    const quick = context.quick;
    const retentionSeconds = quick ? 10 : 20;
    const pruneSeconds = quick ? 3 : 5;
    const rate = RATE;
    const durationS = quick ? 60 : 180;
    const pauseAt = quick ? 20 : 60;
    const resumeAt = quick ? 40 : 110;
    const sampleEveryS = quick ? 5 : 10;
    const env = {
      BENCH_PROCESSES: 'multi',
      BUS_RETENTION_SECONDS: String(retentionSeconds),
      BUS_PRUNE_INTERVAL_SECONDS: String(pruneSeconds),
    };
    const system = await startSystemChild({ env });
    const load = startChild(procPath('http-load'), { name: 'http-load' });
    let gateway: Awaited<ReturnType<typeof startGatewayChild>> | undefined;
    const sql = new pg.Client({ connectionString: system.info.databaseUrl, application_name: 'bench-retention' });
    await sql.connect();
    const auditPid = system.info.pids.audit;
    if (!auditPid) throw new Error(`no audit process (processes: ${JSON.stringify(system.info.pids)})`);
    let paused = false;
    try {
      gateway = await startGatewayChild(system, 'ours');
      await load.ready;
      const base: Omit<HttpLoadRequest, 'durationMs' | 'warmupMs'> = {
        url: gateway.url,
        headers: { authorization: `Bearer ${system.token}` },
        body: CREATE,
        concurrency: 64,
      };
      await load.request<HttpLoadResult>('run', { ...base, warmupMs: 0, durationMs: 60_000, maxRequests: 200 });
      // The baseline: every warm-up event audited.
      await waitUntil('audit to consume the warm-up', async () => (await auditLag(sql)) === 0, 120_000, 200);
      const before = await auditCount(system);

      let loadDone = false;
      const running = load
        .request<HttpLoadResult>('run', { ...base, rate, warmupMs: 0, durationMs: durationS * 1000, timeline: true })
        .finally(() => {
          loadDone = true;
        });
      const start = monotonicMs();
      const prunes = watchPrunes(sql, () => loadDone);
      const samples: Sample[] = [];
      let pauseAttempts = 0;
      let pausedAt = 0;
      let resumedAt = 0;
      for (let i = 0; !loadDone; i++) {
        // Malformed events (fail validation): each task-events group dead-letters them.
        const t = (monotonicMs() - start) / 1000;
        if (!paused && pausedAt === 0 && t >= pauseAt) {
          pauseAttempts = await pauseIdle(sql, auditPid);
          paused = true;
          pausedAt = (monotonicMs() - start) / 1000;
        }
        if (paused && t >= resumeAt) {
          process.kill(auditPid, 'SIGCONT');
          paused = false;
          resumedAt = (monotonicMs() - start) / 1000;
        }
        await sql.query(
          `insert into bus.outbox (id, topic, key, type, data, occurred_at, source)
           values (gen_random_uuid(), 'task-events', 'soak-bad', 'taskgraph.task.created.v1', '{"bad": true}', now(), 'taskgraph/bench')`,
        );
        await sql.query(`select pg_notify('bus_outbox', '')`);
        if (i % sampleEveryS === 0) samples.push(await sample(sql, Math.round(t), retentionSeconds, paused));
        await sleep(Math.max(0, start + (i + 1) * 1000 - monotonicMs()));
      }
      if (paused) {
        process.kill(auditPid, 'SIGCONT');
        paused = false;
      }
      const result = await running;
      const windows = await prunes;
      samples.push(await sample(sql, Math.round((monotonicMs() - start) / 1000), retentionSeconds, false));
      const accepted = result.requests - result.errors;
      await waitUntil('audit to catch up', async () => (await auditCount(system)).entries >= before.entries + accepted, 120_000, 200);
      const after = await auditCount(system);

      // Mutations sent while a prune statement ran, and the others (by send time: counting every request
      // that overlapped a window would favour slow requests, which overlap more).
      const timeline = result.timeline ?? [];
      const inWindow = (sent: number) => windows.some(([a, b]) => sent >= a && sent <= b);
      const during = timeline.filter(([s]) => inWindow(s)).map(([, l]) => l);
      const outside = timeline.filter(([s]) => !inWindow(s)).map(([, l]) => l);
      const latDuring = summarize(during);
      const latOutside = summarize(outside);
      const pruneMs = windows.reduce((sum, [a, b]) => sum + (b - a), 0);

      // Steady samples: after the first retention period (+ a prune round), outside the stop and its catch-up.
      const settle = retentionSeconds + 2 * pruneSeconds;
      const steady = samples.filter((s) => s.t >= settle && (s.t < pauseAt || s.t >= resumeAt + settle) && s.t <= durationS);
      const bands = Object.fromEntries(TABLES.map((name) => [name, withinBand(steady.map((s) => s.rows[name]))])) as Record<
        (typeof TABLES)[number],
        ReturnType<typeof withinBand>
      >;
      // Sizes: flat within each steady stretch (the stop's backlog leaves its high-water mark: space is reused, not returned).
      const stretches = [steady.filter((s) => s.t < pauseAt), steady.filter((s) => s.t >= resumeAt)].filter((x) => x.length > 0);
      const sizeGrowth = Object.fromEntries(
        TABLES.map((name) => [
          name,
          Math.max(...stretches.map((st) => (st.at(-1)!.bytes[name] - st[0]!.bytes[name]) / Math.max(1, st[0]!.bytes[name]))),
        ]),
      ) as Record<(typeof TABLES)[number], number>;
      const rowsFlat = bands.outbox.ok && (bands.dead_letters.median === 0 || bands.dead_letters.ok);
      const sizesFlat = TABLES.every((name) => sizeGrowth[name] <= BAND);
      const appendedGrew = steady.length > 1 && steady.at(-1)!.appended > steady[0]!.appended;
      const stopSamples = samples.filter((s) => s.auditPaused);
      const auditLagKey = (s: Sample) => Object.keys(s.lag).find((k) => k.startsWith('audit ')) ?? 'audit (task-events)';
      const maxAuditLag = Math.max(0, ...stopSamples.map((s) => s.lag[auditLagKey(s)] ?? 0));
      const maxHeld = Math.max(0, ...stopSamples.map((s) => s.pastRetention));
      const noLoss = after.entries - before.entries === accepted && after.entries === after.events;
      const keptWhileStopped = maxHeld > 0 && maxAuditLag > 0 && noLoss;
      const pruneNotBlocking = latDuring.count === 0 || latDuring.p99 <= Math.max(2 * latOutside.p99, latOutside.p99 + 50);

      const maxPrunable = Math.max(0, ...samples.map((s) => s.prunable));
      const perSecond = (samples.at(-1)!.appended - samples[0]!.appended) / Math.max(1, samples.at(-1)!.t - samples[0]!.t);
      const prunableLimit = Math.ceil(perSecond * 2 * pruneSeconds);
      const lagGroups = [...new Set(samples.flatMap((s) => Object.keys(s.lag)))];
      const sampleRows = samples.map((s) => [
        `${s.t}${s.auditPaused ? ' (audit stopped)' : ''}`,
        s.appended.toLocaleString('en-US'),
        `${s.rows.outbox.toLocaleString('en-US')} / ${kb(s.bytes.outbox)}`,
        `${s.rows.processed_events.toLocaleString('en-US')} / ${kb(s.bytes.processed_events)}`,
        `${s.rows.dead_letters.toLocaleString('en-US')} / ${kb(s.bytes.dead_letters)}`,
        `${s.pastRetention.toLocaleString('en-US')} / ${s.prunable.toLocaleString('en-US')}`,
        lagGroups.map((g) => `${g.replace(' (', '/').replace(')', '')} ${s.lag[g] ?? '–'}`).join(' · '),
      ]);
      const markdown = [
        `### 7. ${this.title}`,
        '',
        `Run ${context.date} with \`${context.command}\`. Embedded bus, every subgraph in its own process (\`BENCH_PROCESSES=multi\`, as \`npm start\`) with \`BUS_RETENTION_SECONDS=${retentionSeconds}\`, \`BUS_PRUNE_INTERVAL_SECONDS=${pruneSeconds}\`; our gateway in its own process; an open-loop client sends **${rate} \`createTask\`/s for ${durationS} s** (GraphQL variables); one malformed task event per second is appended straight to the log (every \`task-events\` group dead-letters it). From ${pauseAt} s to ${resumeAt} s the audit process is stopped (SIGSTOP, outside any transaction; ${pauseAttempts} attempt(s)): its group is neither consuming nor touching its offset. Samples every ${sampleEveryS} s; *past retention* = outbox rows older than the retention still kept, *of which consumed by all* = those every group of the topic has consumed (what the pruner has yet to remove: at most about one prune interval's worth); lag = events after each group's offset (\`sync-…\` is this run's sync instance). \`bus.processed_events\` is written only in Dapr mode (dedupe markers), so it stays empty here.`,
        '',
        table(
          [
            't (s)',
            'appended (all topics)',
            'bus.outbox rows / size',
            'processed_events',
            'dead_letters',
            'past retention / of which consumed by all',
            'lag',
          ],
          sampleRows,
        ),
        '',
        table(
          ['figure', 'measured', 'target', ''],
          [
            [
              `rows flat after the first retention period (samples at t ≥ ${settle} s outside the stop and ${settle} s after it; ±${BAND * 100}% of the median) while appended grows`,
              `outbox ${bands.outbox.min.toLocaleString('en-US')}–${bands.outbox.max.toLocaleString('en-US')} (median ${bands.outbox.median.toLocaleString('en-US')}); dead letters ${bands.dead_letters.min}–${bands.dead_letters.max} (median ${bands.dead_letters.median}); appended ${steady[0]?.appended.toLocaleString('en-US')} → ${steady.at(-1)?.appended.toLocaleString('en-US')}`,
              `within ±${BAND * 100}%`,
              verdict(rowsFlat && appendedGrew),
            ],
            [
              `outbox rows past the retention that every group consumed (the pruner's backlog), largest sample`,
              `${maxPrunable.toLocaleString('en-US')}`,
              `≤ ${prunableLimit.toLocaleString('en-US')} (2 prune intervals of appends)`,
              verdict(maxPrunable <= prunableLimit),
            ],
            [
              'table size growth within a steady stretch (largest; outbox / processed_events / dead_letters)',
              TABLES.map((name) => `${fmt(sizeGrowth[name] * 100)}%`).join(' / '),
              `≤ ${BAND * 100}%`,
              verdict(sizesFlat),
            ],
            [
              `audit stopped ${resumeAt - pauseAt} s (> retention ${retentionSeconds} s): most outbox rows past the retention kept / audit lag reported`,
              `${maxHeld.toLocaleString('en-US')} / ${maxAuditLag.toLocaleString('en-US')}`,
              '> 0 / > 0',
              verdict(maxHeld > 0 && maxAuditLag > 0),
            ],
            [
              'nothing unconsumed pruned: audit entries after catching up = mutations accepted (distinct event ids)',
              `${(after.entries - before.entries).toLocaleString('en-US')} = ${accepted.toLocaleString('en-US')} (${after.events.toLocaleString('en-US')} distinct of ${after.entries.toLocaleString('en-US')})`,
              'equal',
              verdict(noLoss),
            ],
            [
              'mutation latency p50 / p99 / max, sent while a prune statement ran (n) vs not (n)',
              `${fmt(latDuring.p50)} / ${fmt(latDuring.p99)} / ${fmt(latDuring.max)} ms (${latDuring.count}) vs ${fmt(latOutside.p50)} / ${fmt(latOutside.p99)} / ${fmt(latOutside.max)} ms (${latOutside.count})`,
              'no worse',
              verdict(pruneNotBlocking),
            ],
            ['prune statements seen (polled every 20 ms)', `${windows.length} windows, ${fmt(pruneMs / 1000)} s in all`, '', ''],
            [
              'mutations accepted / errors, rate',
              `${accepted.toLocaleString('en-US')} / ${result.errors} (${fmt(result.throughput)}/s)${result.firstError ? `; first error \`${result.firstError.slice(0, 120)}\`` : ''}`,
              `${rate}/s`,
              '',
            ],
          ],
        ),
      ].join('\n');
      const ok = rowsFlat && appendedGrew && sizesFlat && keptWhileStopped && pruneNotBlocking;
      return {
        summary: [
          {
            figure: `7. bus tables flat under ${rate} mutations/s (retention ${retentionSeconds} s, ${durationS} s soak)`,
            measured: `outbox rows ${bands.outbox.min}–${bands.outbox.max}, size growth ${TABLES.map((n) => `${fmt(sizeGrowth[n] * 100)}%`).join('/')}; appended ${steady[0]?.appended} → ${steady.at(-1)?.appended}`,
            target: `±${BAND * 100}%`,
            met: rowsFlat && sizesFlat && appendedGrew,
          },
          {
            figure: '7. the pruner keeps up: outbox rows past the retention that every group consumed',
            measured: `≤ ${maxPrunable}`,
            target: `≤ ${prunableLimit}`,
            met: maxPrunable <= prunableLimit,
          },
          {
            figure: '7. a stopped group keeps its backlog (lag), nothing unconsumed pruned',
            measured: `held ${maxHeld}, audit lag ${maxAuditLag}; audited ${after.entries - before.entries} of ${accepted}`,
            target: 'kept, equal',
            met: keptWhileStopped,
          },
          {
            figure: '7. pruning does not block appends: mutation p99 during prune vs not',
            measured: `${fmt(latDuring.p99)} ms (${latDuring.count}) vs ${fmt(latOutside.p99)} ms`,
            target: 'no worse',
            met: pruneNotBlocking,
          },
        ],
        markdown,
        lines: [
          ...samples.map(
            (s) =>
              `t=${s.t}${s.auditPaused ? ' (audit stopped)' : ''} appended ${s.appended} outbox ${s.rows.outbox}/${kb(s.bytes.outbox)} dead ${s.rows.dead_letters}/${kb(s.bytes.dead_letters)} past ${s.pastRetention} prunable ${s.prunable} lag ${JSON.stringify(s.lag)}`,
          ),
          `rows flat ${rowsFlat}, sizes flat ${sizesFlat} (${JSON.stringify(sizeGrowth)}), kept while stopped ${keptWhileStopped} (held ${maxHeld}, lag ${maxAuditLag}, no loss ${noLoss}), prune p99 ${fmt(latDuring.p99)} (${latDuring.count}) vs ${fmt(latOutside.p99)} → ${ok ? 'met' : 'MISSED'}`,
          `accepted ${accepted}, errors ${result.errors}${result.firstError ? ` (${result.firstError.slice(0, 200)})` : ''}; paused ${pausedAt}–${resumedAt} s`,
        ],
        data: {
          samples,
          windows: windows.length,
          pruneMs,
          latDuring,
          latOutside,
          before,
          after,
          accepted,
          sizeGrowth,
          bands,
          pausedAt,
          resumedAt,
        },
      };
    } finally {
      if (paused) process.kill(auditPid, 'SIGCONT');
      await sql.end().catch(() => {});
      await gateway?.child.stop();
      await load.stop();
      await system.stop();
    }
  },
};
