import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ARTIFACTS = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'artifacts', 'reliability');

/** The figures every reliability/security file reports (a missing one prints as 0). */
export interface FigureSet {
  mutations: number;
  events: number;
  faults: number;
  attempts: number;
  leaks: number;
  lost: number;
  duplicated: number;
  [extra: string]: number | string;
}

/**
 * Collects one test file's figures and prints them as one summary line in `afterAll`, e.g.
 * `[reliability] consumer-crash: mutations=300 events=812 faults=4 attempts=0 leaks=0 lost=0 duplicated=0 …`.
 * Also written to `artifacts/reliability/<name>.json` (git-ignored) for RELIABILITY.md.
 */
export class Figures {
  readonly values: FigureSet = { mutations: 0, events: 0, faults: 0, attempts: 0, leaks: 0, lost: 0, duplicated: 0 };
  private readonly started = Date.now();

  constructor(readonly name: string) {}

  add(key: string, n = 1): void {
    const current = this.values[key];
    this.values[key] = (typeof current === 'number' ? current : 0) + n;
  }

  set(key: string, value: number | string): void {
    this.values[key] = value;
  }

  line(): string {
    const parts = Object.entries(this.values).map(([k, v]) => `${k}=${v}`);
    return `[reliability] ${this.name}: ${parts.join(' ')} (${((Date.now() - this.started) / 1000).toFixed(1)} s)`;
  }

  /** Prints the summary line and writes the JSON file. */
  report(): void {
    console.log(this.line());
    try {
      mkdirSync(ARTIFACTS, { recursive: true });
      writeFileSync(
        resolve(ARTIFACTS, `${this.name}.json`),
        `${JSON.stringify({ name: this.name, at: new Date().toISOString(), seconds: (Date.now() - this.started) / 1000, ...this.values }, null, 2)}\n`,
      );
    } catch {
      // figures are informative; a read-only tree must not fail the suite
    }
  }
}
