/**
 * `npm run bench [-- <name>...] [--quick]`: runs the benchmarks (all by default) one after the
 * other, each against a fresh system, and writes their sections of BENCHMARKS.md plus
 * `bench/results/<name>.json` (raw figures, not committed). `--quick` shortens every phase and writes nothing (runner checks).
 * `BENCH_PROCESSES=multi` runs each subgraph in its own process (as `npm start` does) instead of all in one.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { eventThroughput } from './benchmarks/event-throughput.js';
import { fanout } from './benchmarks/fanout.js';
import { gatewayQuery } from './benchmarks/gateway-query.js';
import { nPlusOne } from './benchmarks/n-plus-one.js';
import { realtimeLatency } from './benchmarks/realtime-latency.js';
import { relayThroughput } from './benchmarks/relay.js';
import { retentionSoak } from './benchmarks/retention.js';
import type { BenchContext, Benchmark, BenchOutput, SummaryRow } from './lib/benchmark.js';
import { machine, repoRoot, table, verdict, writeSections } from './lib/report.js';

// rrule and the services expect UTC (docs/ARCHITECTURE.md §9); children inherit it.
process.env.TZ = 'UTC';
process.env.LOG_LEVEL ??= 'silent';

const BENCHMARKS: Benchmark[] = [gatewayQuery, realtimeLatency, fanout, eventThroughput, nPlusOne, relayThroughput, retentionSoak];

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const names = args.filter((a) => !a.startsWith('--'));
for (const name of names) {
  if (!BENCHMARKS.some((b) => b.name === name)) {
    console.error(`unknown benchmark "${name}"; known: ${BENCHMARKS.map((b) => b.name).join(', ')}`);
    process.exit(2);
  }
}
const selected = names.length ? BENCHMARKS.filter((b) => names.includes(b.name)) : BENCHMARKS;
const context: BenchContext = {
  quick,
  command: `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`,
  date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
};

const sections: Record<string, string> = {};
const summary: SummaryRow[] = [];
let failed = 0;
for (const benchmark of selected) {
  console.log(`▶ ${benchmark.name}: ${benchmark.title}`);
  const started = Date.now();
  let output: BenchOutput;
  try {
    output = await benchmark.run(context);
  } catch (error) {
    failed++;
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    console.error(`✖ ${benchmark.name} failed: ${message}`);
    output = {
      summary: [{ figure: benchmark.title, measured: 'failed', target: '', met: false }],
      markdown: `### ${benchmark.title}\n\nRun ${context.date} with \`${context.command}\`: **failed** —\n\n\`\`\`\n${message}\n\`\`\`\n`,
      lines: [],
      data: { error: message },
    };
  }
  for (const line of output.lines) console.log(`  ${line}`);
  if (quick) console.log(output.markdown);
  console.log(`  (${Math.round((Date.now() - started) / 1000)} s)`);
  sections[benchmark.name] = output.markdown;
  summary.push(...output.summary);
  if (!quick) {
    const dir = resolve(repoRoot, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      resolve(dir, `${benchmark.name}.json`),
      `${JSON.stringify({ date: context.date, command: context.command, machine: machine(), ...(output.data as object) }, null, 2)}\n`,
    );
  }
}

if (!quick) {
  const m = machine();
  sections.machine = [
    `Last run: ${context.date}, \`${context.command}\` (${selected.map((b) => b.name).join(', ')}).`,
    '',
    table(
      ['machine', ''],
      [
        ['nproc', m.nproc],
        ['CPU', m.cpuModel],
        ['memory', `${m.memoryGiB} GiB`],
        ['node', m.node],
        ['platform', m.platform],
      ],
    ),
  ].join('\n');
  if (selected.length === BENCHMARKS.length) {
    sections.summary = [
      `Every figure below is from the one run of ${context.date} (\`${context.command}\`).`,
      '',
      table(
        ['figure', 'measured', 'target', ''],
        summary.map((r) => [r.figure, r.measured, r.target, r.met === undefined ? '' : verdict(r.met)]),
      ),
    ].join('\n');
  }
  writeSections(sections);
  console.log('BENCHMARKS.md updated');
}
process.exit(failed ? 1 : 0);
