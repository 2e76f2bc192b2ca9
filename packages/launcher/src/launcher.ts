/**
 * The `npm start` launcher: one embedded Postgres, then every service as its own process over it
 * (ARCHITECTURE §3), as on Kubernetes: logs prefixed by service, stop in order, restart on crash.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADMIN_PORT_OFFSET, baseEnvShape, freePort, type Logger, parseEnv, portSchema } from '@taskgraph/runtime';
import { servicePrefix } from './line-prefix.js';
import { GATEWAY_SERVICE, planServices, SUBGRAPH_SERVICES } from './services.js';
import { type ChildSpec, DEFAULT_SUPERVISION, type SupervisedChild, type SupervisionOptions, superviseChild } from './supervisor.js';

/** Name (log prefix) of the embedded Postgres process. */
export const POSTGRES = 'postgres';

export { DEFAULT_SUPERVISION, type SupervisionOptions } from './supervisor.js';

/** What the launcher reads from its environment; everything else is passed through to the children. */
export interface LauncherConfig {
  /** Gateway port (default: the registry's). 0: every service on a free port the launcher picks once (tests). */
  gatewayPort: number;
  host: string;
  /** Unset → embedded Postgres under `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  logLevel: string;
}

/** Parses the launcher's variables (`PORT`, `HOST`, `DATABASE_URL`, `DATA_DIR`, `LOG_LEVEL`). */
export function loadLauncherConfig(env: NodeJS.ProcessEnv = process.env): LauncherConfig {
  const e = parseEnv(
    {
      PORT: portSchema(GATEWAY_SERVICE.defaultPort),
      HOST: baseEnvShape.HOST,
      DATABASE_URL: baseEnvShape.DATABASE_URL,
      DATA_DIR: baseEnvShape.DATA_DIR,
      LOG_LEVEL: baseEnvShape.LOG_LEVEL,
    },
    env,
  );
  return { gatewayPort: e.PORT, host: e.HOST, databaseUrl: e.DATABASE_URL, dataDir: e.DATA_DIR, logLevel: e.LOG_LEVEL };
}

export interface LauncherOptions {
  config: LauncherConfig;
  /** Passed to every child (secrets, NODE_ENV, EVENT_BUS ...); the launcher sets PORT, HOST, DATABASE_URL, SUBGRAPH_*_URL. */
  env: NodeJS.ProcessEnv;
  logger: Logger;
  /** Where the children's prefixed lines go (default: stdout). */
  write?: (text: string) => void;
  colour?: boolean;
  supervision?: SupervisionOptions;
  /** Node flags for the subgraph and gateway processes (not Postgres), e.g. `--cpu-prof` for a benchmark. */
  nodeArgs?: readonly string[];
}

/** The running system: the gateway URL, each service process, `close()` stops them all and Postgres. */
export interface Launcher {
  readonly url: string;
  /** Each subgraph's GraphQL endpoint, by name. */
  readonly subgraphUrls: Readonly<Record<string, string>>;
  readonly databaseUrl: string;
  readonly children: readonly SupervisedChild[];
  close(): Promise<void>;
}

async function resolvePorts(
  gatewayPort: number,
  production: boolean,
): Promise<{ ports: Record<string, number>; adminPorts?: Record<string, number> }> {
  const services = [...SUBGRAPH_SERVICES, GATEWAY_SERVICE];
  const ports: Record<string, number> = {};
  // Picked once, so a restarted process listens where the gateway already sends its requests.
  for (const s of services) ports[s.name] = gatewayPort === 0 ? await freePort() : s.defaultPort;
  if (gatewayPort !== 0) ports[GATEWAY_SERVICE.name] = gatewayPort;
  if (!production) return { ports };
  // Production serves health and metrics on an admin port only (as each service would pick it alone).
  const adminPorts: Record<string, number> = {};
  for (const s of services) adminPorts[s.name] = gatewayPort === 0 ? await freePort() : ports[s.name]! + ADMIN_PORT_OFFSET;
  return { ports, adminPorts };
}

/**
 * Starts Postgres in its own process (unless `databaseUrl`), every subgraph process at once (their migrations take an
 * advisory lock per schema, so concurrent starts do not race), waits until each answers
 * `/healthz`, then starts the gateway. If any service cannot start, what was started is stopped.
 */
export async function startLauncher(options: LauncherOptions): Promise<Launcher> {
  const { config, logger } = options;
  const write = options.write ?? ((text: string) => process.stdout.write(text));
  const { ports, adminPorts } = await resolvePorts(config.gatewayPort, options.env.NODE_ENV === 'production');
  const width = Math.max(POSTGRES.length, ...[...SUBGRAPH_SERVICES, GATEWAY_SERVICE].map((s) => s.name.length));
  let index = 0;
  const supervise = (spec: ChildSpec) =>
    superviseChild(
      spec,
      servicePrefix(spec.name, index++, width, options.colour ?? false),
      write,
      logger,
      options.supervision ?? DEFAULT_SUPERVISION,
    );

  const children: SupervisedChild[] = [];
  const close = async () => {
    // The gateway first (no new client requests), then the subgraphs together, then their database.
    const gateway = children.find((c) => c.name === GATEWAY_SERVICE.name);
    const postgres = children.find((c) => c.name === POSTGRES);
    if (gateway) await gateway.stop();
    await Promise.all(children.filter((c) => c !== gateway && c !== postgres).map((c) => c.stop()));
    if (postgres) await postgres.stop();
  };
  let databaseUrl = config.databaseUrl;
  try {
    if (!databaseUrl) {
      const postgres = supervise({
        name: POSTGRES,
        entry: fileURLToPath(new URL('./postgres-main.js', import.meta.url)),
        // Port picked once: a restarted Postgres is where the services' pools reconnect.
        env: { ...options.env, PORT: String(await freePort()), DATA_DIR: resolve(config.dataDir), LOG_LEVEL: config.logLevel },
      });
      children.push(postgres);
      databaseUrl = ((await postgres.ready()) as { url: string }).url;
    }
    const plan = planServices({ baseEnv: options.env, ports, ...(adminPorts ? { adminPorts } : {}), host: config.host, databaseUrl });
    const withArgs = (spec: ChildSpec): ChildSpec => (options.nodeArgs ? { ...spec, nodeArgs: options.nodeArgs } : spec);
    children.push(...plan.subgraphs.map((spec) => supervise(withArgs(spec))));
    await Promise.all(children.map((c) => c.ready()));
    const gateway = supervise(withArgs(plan.gateway));
    children.push(gateway);
    await gateway.ready();
    return { url: plan.gatewayUrl, subgraphUrls: plan.subgraphUrls, databaseUrl, children, close };
  } catch (error) {
    await close().catch((err) => logger.error({ err }, 'stopping after a failed start failed'));
    throw error;
  }
}
