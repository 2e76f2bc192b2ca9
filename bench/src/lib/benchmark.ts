/** Options of one `npm run bench` invocation. */
export interface BenchContext {
  /** `--quick`: shorter phases for trying the runner (figures are not for BENCHMARKS.md). */
  quick: boolean;
  /** The command line, as written into BENCHMARKS.md. */
  command: string;
  /** ISO date of the run. */
  date: string;
}

/** One figure beside its target, for the summary table. */
export interface SummaryRow {
  figure: string;
  measured: string;
  target: string;
  /** undefined: a reference figure without a target. */
  met?: boolean;
}

export interface BenchOutput {
  /** The figures with targets (summary table of BENCHMARKS.md). */
  summary: SummaryRow[];
  /** Generated section of BENCHMARKS.md (between this benchmark's markers). */
  markdown: string;
  /** One line per figure for the console. */
  lines: string[];
  /** Raw figures (bench/results/<name>.json). */
  data: unknown;
}

export interface Benchmark {
  /** Name on the command line and in the BENCHMARKS.md markers. */
  name: string;
  title: string;
  run(context: BenchContext): Promise<BenchOutput>;
}
