/**
 * The system under test in its own process: embedded Postgres (durable settings, as `npm start`
 * runs it) under a temporary directory, and every subgraph via `startSystem` (whose in-process
 * gateway is used only to seed data), or with `BENCH_PROCESSES=multi` every subgraph in its own
 * child process (`@taskgraph/launcher`, as `npm start` runs them). Gateways and load clients run
 * in other processes.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeSupergraph, subgraphSdlPath } from '@taskgraph/gateway';
import { createLogger, DEV_INTERNAL_TOKEN_SECRET, signInternalToken, startEmbeddedPostgres } from '@taskgraph/runtime';
import pg from 'pg';
import { serveParent } from '../lib/child.js';
import { type ProcessModel, processModel, type SystemUnderTest, startSystemUnderTest } from '../lib/system-processes.js';

export interface SystemInfo {
  /** The in-process gateway of `startSystem` (seeding only). */
  gatewayUrl: string;
  subgraphs: Record<string, string>;
  supergraphSdl: string;
  internalTokenSecret: string;
  databaseUrl: string;
  pid: number;
  /** How the subgraphs run, and their processes by name (`{ subgraphs: pid }` when all are in this one). */
  processes: ProcessModel;
  pids: Record<string, number>;
}

interface State {
  system: SystemUnderTest;
  sql: pg.Pool;
  stopPostgres(): Promise<void>;
  dataDir: string;
  supergraphSdl: string;
}

/** `db_queries_total` of one service's `/metrics`. */
async function dbQueries(graphqlUrl: string): Promise<number> {
  const text = await (await fetch(new URL('/metrics', graphqlUrl))).text();
  const line = text.split('\n').find((l) => l.startsWith('db_queries_total'));
  return line ? Number(line.trim().split(/\s+/).pop()) : Number.NaN;
}

await serveParent<State>(
  async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'taskgraph-bench-'));
    chmodSync(dataDir, 0o755); // the unprivileged postgres user must reach its data directory
    const postgres = await startEmbeddedPostgres({ dataDir: join(dataDir, 'postgres'), persistent: false });
    process.env.TEST_DATABASE_URL = postgres.url;
    try {
      // With `--cpu-prof-dir` (a profiled benchmark), the service processes of `multi` profile too, into `services/`.
      const profiled = process.execArgv.indexOf('--cpu-prof-dir');
      const servicesProfileDir = profiled >= 0 ? join(process.execArgv[profiled + 1]!, 'services') : undefined;
      if (servicesProfileDir) mkdirSync(servicesProfileDir, { recursive: true });
      const system = await startSystemUnderTest(processModel(), servicesProfileDir);
      const subgraphs = Object.entries(system.subgraphs).map(([name, url]) => ({
        name,
        url,
        sdl: readFileSync(subgraphSdlPath(name), 'utf8'),
      }));
      const sql = new pg.Pool({ connectionString: system.databaseUrl, max: 2 });
      return { system, sql, dataDir, supergraphSdl: composeSupergraph(subgraphs), stopPostgres: () => postgres.stop() };
    } catch (error) {
      await postgres.stop();
      throw error;
    }
  },
  (state) => ({
    token: ({ userId }: { userId: string }) => state.system.tokenFor(userId, 6 * 3600),
    internalToken: ({ userId }: { userId: string }) => signInternalToken(userId, DEV_INTERNAL_TOKEN_SECRET, 6 * 3600),
    graphql: ({ query, variables, as }: { query: string; variables?: Record<string, unknown>; as?: string }) =>
      state.system.graphql(query, variables, as),
    sql: async ({ text, values }: { text: string; values?: unknown[] }) => (await state.sql.query(text, values)).rows,
    dbQueries: async () =>
      Object.fromEntries(
        await Promise.all(Object.entries(state.system.subgraphs).map(async ([name, url]) => [name, await dbQueries(url)])),
      ),
    memory: () => process.memoryUsage(),
  }),
  (state) =>
    ({
      gatewayUrl: state.system.gatewayUrl,
      subgraphs: state.system.subgraphs,
      supergraphSdl: state.supergraphSdl,
      internalTokenSecret: DEV_INTERNAL_TOKEN_SECRET,
      databaseUrl: state.system.databaseUrl,
      pid: process.pid,
      processes: state.system.model,
      pids: state.system.pids,
    }) satisfies SystemInfo,
  async (state) => {
    const log = createLogger('bench-system', 'info');
    await state.sql.end();
    await state.system.close().catch((error) => log.error({ err: error }, 'closing the system failed'));
    await state.stopPostgres();
    rmSync(state.dataDir, { recursive: true, force: true });
  },
);
