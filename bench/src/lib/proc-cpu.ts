import { readdirSync, readFileSync } from 'node:fs';

const TICKS = 100; // USER_HZ on Linux

/** CPU seconds (user + system) of each process now, by pid, with its command name. */
function snapshot(): Map<number, { comm: string; ppid: number; seconds: number }> {
  const out = new Map<number, { comm: string; ppid: number; seconds: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' ');
      // fields[11] = utime, fields[12] = stime (stat fields 14 and 15)
      out.set(Number(entry), { comm, ppid: Number(fields[1]), seconds: (Number(fields[11]) + Number(fields[12])) / TICKS });
    } catch {
      // the process ended
    }
  }
  return out;
}

/**
 * Measures CPU used by named processes, by the `postgres` processes descending from them (our
 * embedded Postgres), and by everything else on the machine (`others`: e.g. other engineers'
 * test runs sharing the cores) between construction (or `restart`) and `read`.
 */
export class CpuMeter {
  private before = snapshot();
  private started = performance.now();
  /** Wall seconds of the interval the last `read` covered. */
  seconds = 0;

  constructor(private readonly named: Record<string, number>) {}

  restart(): void {
    this.before = snapshot();
    this.started = performance.now();
  }

  /** Cores used (1.0 = one core busy) per name, `postgres`, and `total`, over the interval. */
  read(): Record<string, number> {
    const after = snapshot();
    const wall = (performance.now() - this.started) / 1000;
    this.seconds = wall;
    const used = (pid: number) => (after.get(pid)?.seconds ?? 0) - (this.before.get(pid)?.seconds ?? 0);
    const result: Record<string, number> = {};
    let total = 0;
    for (const [name, pid] of Object.entries(this.named)) result[name] = used(pid) / wall;
    const ours = new Set(Object.values(this.named));
    const descendsFromOurs = (pid: number): boolean => {
      for (let p = after.get(pid), hops = 0; p && hops < 10; p = after.get(p.ppid), hops++) if (ours.has(p.ppid)) return true;
      return false;
    };
    let postgres = 0;
    let named = 0;
    for (const [pid, p] of after) {
      const d = Math.max(0, p.seconds - (this.before.get(pid)?.seconds ?? 0));
      total += d;
      if (ours.has(pid)) named += d;
      else if (p.comm === 'postgres' && descendsFromOurs(pid)) postgres += d;
    }
    result.postgres = postgres / wall;
    result.others = (total - named - postgres) / wall;
    return result;
  }
}

/** `gateway 0.45 · subgraphs 0.98 · postgres 0.40 · client 0.10 (of 2 cores)` */
export function cpuLine(cores: Record<string, number>): string {
  return Object.entries(cores)
    .map(([name, c]) => `${name} ${c.toFixed(2)}`)
    .join(' · ');
}

/** Names `CpuMeter` results carry that are not the system under test. */
const NOT_THE_SYSTEM = new Set(['client', 'others', 'load', 'http-load', 'ws-clients']);

/**
 * CPU milliseconds per operation spent by the system under test — every measured process except
 * the load client and `others` (gateway, subgraphs, consumers, Postgres) — over `seconds`.
 */
export function systemCpuMsPerOp(cores: Record<string, number>, seconds: number, ops: number): number {
  if (ops <= 0) return Number.NaN;
  const systemCores = Object.entries(cores)
    .filter(([name]) => !NOT_THE_SYSTEM.has(name))
    .reduce((sum, [, c]) => sum + c, 0);
  return (systemCores * seconds * 1000) / ops;
}
