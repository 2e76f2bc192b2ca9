import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is `bench/dist/lib/report.js`). */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const benchmarksFile = resolve(repoRoot, 'BENCHMARKS.md');

export interface Machine {
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  platform: string;
}

export function machine(): Machine {
  return {
    nproc: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

/** A section of BENCHMARKS.md owned by the runner, between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`. */
export function replaceSection(document: string, name: string, body: string): string {
  const open = `<!-- bench:${name} -->`;
  const close = `<!-- /bench:${name} -->`;
  const block = `${open}\n${body.trim()}\n${close}`;
  const start = document.indexOf(open);
  const end = document.indexOf(close);
  if (start >= 0 && end > start) return document.slice(0, start) + block + document.slice(end + close.length);
  return `${document.trimEnd()}\n\n${block}\n`;
}

/** Writes generated sections into BENCHMARKS.md, keeping everything outside the markers. */
export function writeSections(sections: Record<string, string>): void {
  let document = existsSync(benchmarksFile) ? readFileSync(benchmarksFile, 'utf8') : '# Benchmarks\n';
  for (const [name, body] of Object.entries(sections)) document = replaceSection(document, name, body);
  writeFileSync(benchmarksFile, document);
}

/** A markdown table. */
export function table(header: string[], rows: (string | number)[][], align?: ('l' | 'r')[]): string {
  const sep = header.map((_, i) => ((align?.[i] ?? 'l') === 'r' ? '---:' : '---'));
  return [header, sep, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

/** ✅ / ❌ beside a figure. */
export const verdict = (ok: boolean): string => (ok ? '✅ met' : '❌ **missed**');
