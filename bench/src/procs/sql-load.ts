/**
 * Postgres-alone load process (the "limit" row of benchmark 1): `concurrency` closed loops, each on
 * its own connection, run the SQL one `TaskBoard` request makes in the subgraphs — the same
 * statements (named, prepared once per connection) with the same values — and nothing else: no
 * GraphQL, no HTTP, no JSON. One "request" = the tasks page, then the history pages and the
 * reminders of its tasks (concurrently, as the gateway's plan fetches them).
 */
import pg from 'pg';
import { serveParent } from '../lib/child.js';
import { type LatencySummary, monotonicMs, summarize } from '../lib/stats.js';

/** One statement as the subgraph sends it. */
export interface SqlStatement {
  name: string;
  text: string;
  values: unknown[];
}

/** What loop `i` runs per request: `requests[i % length]`, first `page`, then `fanout` concurrently. */
export interface SqlRequest {
  page: SqlStatement;
  fanout: SqlStatement[];
}

export interface SqlLoadRequest {
  databaseUrl: string;
  requests: SqlRequest[];
  concurrency: number;
  warmupMs: number;
  durationMs: number;
}

export interface SqlLoadResult {
  requests: number;
  /** Rows returned per request (first request), to check the work matches the GraphQL answer. */
  rowsPerRequest: number[];
  throughput: number;
  latency: LatencySummary;
  startedAt: number;
  endedAt: number;
}

const open: pg.Client[] = [];

async function run(request: SqlLoadRequest): Promise<SqlLoadResult> {
  // Two connections per loop: the fan-out statements run concurrently, like the two subgraphs' fetches.
  const clients = await Promise.all(
    Array.from({ length: request.concurrency * 2 }, async () => {
      const client = new pg.Client({ connectionString: request.databaseUrl });
      await client.connect();
      return client;
    }),
  );
  const latencies: number[] = [];
  let recording = false;
  let requests = 0;
  let rowsPerRequest: number[] = [];
  const once = async (i: number) => {
    const sql = request.requests[i % request.requests.length] as SqlRequest;
    const [a, b] = [clients[2 * i] as pg.Client, clients[2 * i + 1] as pg.Client];
    const t0 = monotonicMs();
    const page = await a.query(sql.page);
    const rest = await Promise.all(sql.fanout.map((s, k) => (k % 2 === 0 ? a : b).query(s)));
    if (rowsPerRequest.length === 0) rowsPerRequest = [page.rowCount ?? 0, ...rest.map((r) => r.rowCount ?? 0)];
    if (!recording) return;
    requests++;
    latencies.push(monotonicMs() - t0);
  };
  const loops = (until: () => boolean) =>
    Promise.all(
      Array.from({ length: request.concurrency }, async (_, i) => {
        while (!until()) await once(i);
      }),
    );
  const warmEnd = monotonicMs() + request.warmupMs;
  await loops(() => monotonicMs() >= warmEnd);
  recording = true;
  const startedAt = monotonicMs();
  const end = startedAt + request.durationMs;
  await loops(() => monotonicMs() >= end);
  const endedAt = monotonicMs();
  // Kept open until `close`: the parent reads the backends' CPU (/proc) before they exit.
  open.push(...clients);
  return {
    requests,
    rowsPerRequest,
    throughput: requests / ((endedAt - startedAt) / 1000),
    latency: summarize(latencies),
    startedAt,
    endedAt,
  };
}

await serveParent(
  async () => ({}),
  () => ({
    run: (request: SqlLoadRequest) => run(request),
    close: async () => {
      await Promise.all(open.splice(0).map((client) => client.end()));
    },
  }),
  () => ({ pid: process.pid }),
  async () => {
    await Promise.all(open.splice(0).map((client) => client.end()));
  },
);
