import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where a process writes its `--cpu-prof` file; sampling every 10 ms keeps the overhead small. */
export const cpuProfileFlags = (dir: string): string[] => ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '10000'];

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Samples (ms of CPU) inside the window, excluding idle. */
  busyMs: number;
  /** Wall time of the window (ms). */
  windowMs: number;
  /** Share of self time by package / area, largest first. */
  byArea: { area: string; percent: number }[];
  /** Hottest functions by self time. */
  topFunctions: { fn: string; area: string; percent: number }[];
}

/** The package or area a script URL belongs to (`graphql`, `@apollo/gateway`, `taskgraph:gateway`, `node`). */
export function areaOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + 'node_modules/'.length).split('/');
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? url);
  }
  if (url.startsWith('node:')) return 'node';
  const m =
    /\/work\/[^/]+\/((?:packages|subgraphs)\/[^/]+|gateway|bench)\//.exec(url) ??
    /\/((?:packages|subgraphs)\/[^/]+|gateway|bench)\/dist\//.exec(url);
  return m ? `taskgraph:${m[1]}` : url;
}

/**
 * Self time by area and function from the newest `.cpuprofile` in `dir`, counting only samples
 * between `fromMs` and `toMs` (monotonic ms, the clock V8 stamps samples with) when given.
 */
export function summarizeProfile(dir: string, fromMs?: number, toMs?: number, top = 12, pid?: number): ProfileSummary | undefined {
  // Node names the file CPU.<date>.<time>.<pid>.<thread>.<n>.cpuprofile.
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile') && (pid === undefined || f.split('.')[3] === String(pid)))
    .sort();
  const file = files.at(-1);
  if (!file) return undefined;
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const fromUs = fromMs === undefined ? -Infinity : fromMs * 1000;
  const toUs = toMs === undefined ? Infinity : toMs * 1000;
  let t = profile.startTime;
  const selfUs = new Map<number, number>();
  let firstInWindow: number | undefined;
  let lastInWindow = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    if (t < fromUs || t > toUs) continue;
    firstInWindow ??= t;
    lastInWindow = t;
    const id = profile.samples[i] as number;
    // Each sample stands for the time until the next one.
    const next = profile.timeDeltas[i + 1] ?? delta;
    selfUs.set(id, (selfUs.get(id) ?? 0) + next);
  }
  const areas = new Map<string, number>();
  const fns = new Map<string, { area: string; us: number }>();
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') continue;
    busyUs += us;
    const area = areaOf(url, functionName);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const key = `${functionName || '(anonymous)'} ${url ? `${url.split('/').slice(-1)[0]}:${lineNumber + 1}` : ''}`.trim();
    const entry = fns.get(key) ?? { area, us: 0 };
    entry.us += us;
    fns.set(key, entry);
  }
  if (busyUs === 0) return undefined;
  const pct = (us: number) => Math.round((us / busyUs) * 1000) / 10;
  return {
    busyMs: busyUs / 1000,
    windowMs: firstInWindow === undefined ? 0 : (lastInWindow - firstInWindow) / 1000,
    byArea: [...areas.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([area, us]) => ({ area, percent: pct(us) })),
    topFunctions: [...fns.entries()]
      .sort((a, b) => b[1].us - a[1].us)
      .slice(0, top)
      .map(([fn, { area, us }]) => ({ fn, area, percent: pct(us) })),
  };
}

/** Markdown lines for a profile summary. */
export function profileMarkdown(title: string, summary: ProfileSummary | undefined): string {
  if (!summary) return `*${title}: no profile samples in the window.*\n`;
  const cpu = summary.windowMs > 0 ? ` (${Math.round((summary.busyMs / summary.windowMs) * 100)}% of one core)` : '';
  const lines = [
    `<details><summary>${title}: CPU ${Math.round(summary.busyMs)} ms in a ${Math.round(summary.windowMs)} ms window${cpu}</summary>`,
    '',
    '| self time by area | % |',
    '|---|---:|',
    ...summary.byArea.map((a) => `| ${a.area} | ${a.percent} |`),
    '',
    '| hottest functions (self) | area | % |',
    '|---|---|---:|',
    ...summary.topFunctions.map((f) => `| \`${f.fn.replaceAll('|', '\\|')}\` | ${f.area} | ${f.percent} |`),
    '',
    '</details>',
    '',
  ];
  return lines.join('\n');
}
