import { DEFAULT_JWT_AUDIENCE, DEFAULT_JWT_ISSUER, DEV_JWT_SECRET, signDevToken } from '@taskgraph/gateway';
import { startLauncher } from '@taskgraph/launcher';
import { createLogger } from '@taskgraph/runtime';
import { createTestDatabase, type GraphQLResult, startSystem } from '@taskgraph/testing';
import { cpuProfileFlags } from './cpuprofile.js';

/**
 * How the benchmark system runs its subgraphs: `single` = all in the system process (`startSystem`),
 * `multi` = each its own process, as `npm start` and Kubernetes run them (`@taskgraph/launcher`).
 * Chosen with `BENCH_PROCESSES=multi` (default `single`).
 */
export type ProcessModel = 'single' | 'multi';

export const processModel = (env: NodeJS.ProcessEnv = process.env): ProcessModel => (env.BENCH_PROCESSES === 'multi' ? 'multi' : 'single');

/** The subgraphs (and a seeding gateway) on one database, however they are laid out in processes. */
export interface SystemUnderTest {
  readonly model: ProcessModel;
  /** A gateway for seeding only (in-process for `single`, the launcher's for `multi`). */
  readonly gatewayUrl: string;
  readonly subgraphs: Record<string, string>;
  readonly databaseUrl: string;
  /** The processes running the subgraphs, by name: `{ subgraphs: pid }` for `single`, one per subgraph for `multi`. */
  readonly pids: Record<string, number>;
  tokenFor(userId: string, ttlSeconds: number): Promise<string>;
  graphql(query: string, variables: Record<string, unknown> | undefined, as: string | undefined): Promise<GraphQLResult>;
  close(): Promise<void>;
}

/**
 * `profileDir`: each service process writes its `--cpu-prof` file there (file names carry the pid;
 * `summarizeProfile(dir, from, to, top, pid)` picks one).
 */
async function startMulti(profileDir?: string): Promise<SystemUnderTest> {
  const db = await createTestDatabase('system');
  const logger = createLogger('bench-launcher', 'warn');
  try {
    const launcher = await startLauncher({
      config: { gatewayPort: 0, host: '127.0.0.1', databaseUrl: db.url, dataDir: '.data', logLevel: 'warn' },
      // The benchmark's own flags (--cpu-prof of this process) are not the services'.
      // The launcher's gateway only seeds (hundreds of mutations at once): no per-user rate/concurrency limits.
      env: {
        ...process.env,
        // The system process runs with NODE_ENV=production (harness.ts); these services keep the
        // development configuration they always had here (production would require real secrets).
        NODE_ENV: 'development',
        NODE_OPTIONS: '',
        LOG_LEVEL: 'warn',
        GATEWAY_RATE_LIMIT_PER_SECOND: '1000000',
        GATEWAY_RATE_LIMIT_BURST: '1000000',
        GATEWAY_MAX_IN_FLIGHT_PER_USER: '100000',
      },
      logger,
      ...(profileDir ? { nodeArgs: cpuProfileFlags(profileDir) } : {}),
    });
    const pids = Object.fromEntries(
      launcher.children.filter((c) => c.name in launcher.subgraphUrls).map((c) => [c.name, c.pid() ?? Number.NaN]),
    );
    const tokenFor = (userId: string, ttlSeconds: number) =>
      signDevToken(userId, { secret: DEV_JWT_SECRET, issuer: DEFAULT_JWT_ISSUER, audience: DEFAULT_JWT_AUDIENCE, ttlSeconds });
    return {
      model: 'multi',
      gatewayUrl: launcher.url,
      subgraphs: { ...launcher.subgraphUrls },
      databaseUrl: db.url,
      pids,
      tokenFor,
      async graphql(query, variables, as) {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (as !== undefined) headers.authorization = `Bearer ${await tokenFor(as, 3600)}`;
        const res = await fetch(launcher.url, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
        return { status: res.status, ...((await res.json()) as Omit<GraphQLResult, 'status'>) };
      },
      async close() {
        await launcher.close();
        await db.drop();
      },
    };
  } catch (error) {
    await db.drop().catch(() => {});
    throw error;
  }
}

/** Starts the subgraphs on a fresh database on `TEST_DATABASE_URL`'s server, laid out as `model`. */
export async function startSystemUnderTest(model: ProcessModel, profileDir?: string): Promise<SystemUnderTest> {
  if (model === 'multi') return startMulti(profileDir);
  const system = await startSystem();
  return {
    model,
    gatewayUrl: system.gatewayUrl,
    subgraphs: Object.fromEntries(Object.entries(system.services).map(([name, s]) => [name, s.url])),
    databaseUrl: system.databaseUrl,
    pids: { subgraphs: process.pid },
    tokenFor: (userId, ttlSeconds) => system.tokenFor(userId, { ttlSeconds }),
    graphql: (query, variables, as) => system.graphql(query, variables, as),
    close: () => system.close(),
  };
}
