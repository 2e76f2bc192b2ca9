/**
 * 5. N+1: SQL statements each subgraph sends for one page of 100 tasks with their history
 * (audit) and reminders (notifications), read from every service's `db_queries_total`.
 */
import type { BenchContext, Benchmark, BenchOutput } from '../lib/benchmark.js';
import { sleep, startSystemChild } from '../lib/harness.js';
import { table, verdict } from '../lib/report.js';
import { busIdle, seedTasks } from '../lib/seed.js';

export const PAGE_QUERY = `query Page {
  tasks(first: 100) {
    edges { node {
      id title status dueAt
      history(first: 10) { edges { node { action version occurredAt } } }
      reminders { id fireAt status }
    } }
    pageInfo { hasNextPage }
  }
}`;
const SUBGRAPHS_READ = ['tasks', 'audit', 'notifications'];
const RUNS = 5;

type Counts = Record<string, number>;
const delta = (after: Counts, before: Counts): Counts =>
  Object.fromEntries(Object.keys(after).map((k) => [k, (after[k] ?? 0) - (before[k] ?? 0)]));

export const nPlusOne: Benchmark = {
  name: 'n1',
  title: 'N+1: SQL statements per subgraph for a 100-task page',
  async run(context: BenchContext): Promise<BenchOutput> {
    const system = await startSystemChild();
    try {
      await seedTasks(system, { tasks: 100, reminders: 2, updates: 2 });
      const runs: Counts[] = [];
      const idle: Counts[] = [];
      let shape = '';
      for (let i = 0; i < RUNS; i++) {
        await sleep(300);
        if (!(await busIdle(system))) throw new Error('bus not idle');
        const q0 = await system.child.request<Counts>('dbQueries');
        await sleep(200);
        const q1 = await system.child.request<Counts>('dbQueries');
        idle.push(delta(q1, q0));
        const page = await system.graphql<{ tasks: { edges: { node: { history: { edges: unknown[] }; reminders: unknown[] } }[] } }>(
          PAGE_QUERY,
        );
        const q2 = await system.child.request<Counts>('dbQueries');
        runs.push(delta(q2, q1));
        const edges = page.tasks.edges;
        shape = `${edges.length} tasks, ${edges.reduce((s, e) => s + e.node.history.edges.length, 0)} history entries, ${edges.reduce((s, e) => s + e.node.reminders.length, 0)} reminders`;
      }
      const names = Object.keys(runs[0] ?? {});
      const max = (k: string) => Math.max(...runs.map((r) => r[k] ?? 0));
      const idleMax = (k: string) => Math.max(...idle.map((r) => r[k] ?? 0));
      const markdown = [
        `### 5. ${this.title}`,
        '',
        `Run ${context.date} with \`${context.command}\`. \`Page\` (below) through our gateway: ${shape}. \`db_queries_total\` of each service read before and after the query, ${RUNS} times, with the bus idle; the same read over an idle 200 ms shows no background statements (max ${Math.max(...names.map(idleMax))}).`,
        '',
        table(
          ['subgraph', 'statements per query (max of runs)', 'all runs', 'target', ''],
          names.map((k) => [
            k,
            max(k),
            runs.map((r) => r[k]).join(', '),
            SUBGRAPHS_READ.includes(k) ? '1' : '0 (not in the query)',
            verdict(max(k) <= (SUBGRAPHS_READ.includes(k) ? 1 : 0)),
          ]),
          ['l', 'r', 'l', 'r', 'l'],
        ),
        '',
        '```graphql',
        PAGE_QUERY,
        '```',
      ].join('\n');
      return {
        summary: SUBGRAPHS_READ.map((k) => ({
          figure: `5. SQL statements in ${k} for a 100-task page`,
          measured: String(max(k)),
          target: '1',
          met: max(k) <= 1,
        })),
        markdown,
        lines: names.map((k) => `${k}: ${max(k)} statements (${runs.map((r) => r[k]).join(', ')})`),
        data: { runs, idle, shape },
      };
    } finally {
      await system.stop();
    }
  },
};
