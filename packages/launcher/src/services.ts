import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { GATEWAY_SERVICE as GATEWAY, GATEWAY_NODE_OPTIONS, SUBGRAPH_SERVICES as REGISTRY, SUBGRAPH_NAMES } from '@taskgraph/runtime';
import type { ChildSpec } from './supervisor.js';

/** A service the launcher runs: its name, package (whose `dist/index.js` is the process entry) and default port. */
export interface ServiceEntry {
  readonly name: string;
  readonly packageName: string;
  readonly defaultPort: number;
}

/** A subgraph the launcher runs, with the gateway variable that carries its URL. */
export interface SubgraphEntry extends ServiceEntry {
  readonly urlEnv: string;
}

/** The subgraphs, in the service registry's order and on its default ports (CONVENTIONS §16). */
export const SUBGRAPH_SERVICES: readonly SubgraphEntry[] = SUBGRAPH_NAMES.map((name) => ({
  name,
  packageName: `@taskgraph/subgraph-${name}`,
  defaultPort: REGISTRY[name].port,
  urlEnv: REGISTRY[name].urlEnv,
}));

export const GATEWAY_SERVICE: ServiceEntry = { name: GATEWAY.name, packageName: '@taskgraph/gateway', defaultPort: GATEWAY.port };

/** The built `index.js` next to the package's main module (`dist/app.js`): what `npm start -w <pkg>` runs. */
export function entryOf(packageName: string): string {
  return fileURLToPath(new URL('./index.js', import.meta.resolve(packageName)));
}

/** The address to reach a service listening on `host` (a wildcard address is reached on loopback). */
export const connectHost = (host: string): string => (host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host);

export interface PlanOptions {
  /** Environment every child inherits (NODE_ENV, LOG_LEVEL, secrets, EVENT_BUS ...). */
  baseEnv: NodeJS.ProcessEnv;
  /** Every service's and the gateway's port, by name. */
  ports: Readonly<Record<string, number>>;
  /**
   * Admin listener ports (`/healthz`, `/readyz`, `/metrics` off the public port), by name; production
   * only. Without one a service serves them on its public port.
   */
  adminPorts?: Readonly<Record<string, number>>;
  host: string;
  /** The one Postgres every service uses (each in its own schema). */
  databaseUrl: string;
}

/**
 * The processes of the system: every subgraph on its port against the shared database, and the
 * gateway pointed at the subgraphs' URLs through its `SUBGRAPH_<NAME>_URL` variables, exactly
 * the variables a Kubernetes Deployment sets (k8s/).
 */
export function planServices(options: PlanOptions): {
  subgraphs: ChildSpec[];
  gateway: ChildSpec;
  gatewayUrl: string;
  /** Every subgraph's GraphQL endpoint, by name. */
  subgraphUrls: Record<string, string>;
} {
  const reach = connectHost(options.host);
  // One ADMIN_PORT cannot serve five processes: each child gets its own or none.
  const { ADMIN_PORT: _admin, ...inherited } = options.baseEnv;
  const base = { ...inherited, HOST: options.host, DATABASE_URL: options.databaseUrl };
  const portOf = (entry: ServiceEntry) => options.ports[entry.name] ?? entry.defaultPort;
  const adminOf = (entry: ServiceEntry) => options.adminPorts?.[entry.name];
  const ownPorts = (entry: ServiceEntry) => {
    const admin = adminOf(entry);
    return admin === undefined ? { PORT: String(portOf(entry)) } : { PORT: String(portOf(entry)), ADMIN_PORT: String(admin) };
  };
  const healthUrl = (entry: ServiceEntry) => `http://${reach}:${adminOf(entry) ?? portOf(entry)}/healthz`;
  // sync names its consumer group after its instance id (default: host, pid, random). A restarted sync
  // process here is the same instance: it keeps its group and offset instead of leaving one behind per crash.
  const instance = (entry: ServiceEntry) =>
    entry.name === 'sync' && !inherited.SYNC_INSTANCE_ID
      ? { SYNC_INSTANCE_ID: `${hostname()}-${portOf(entry)}`.replace(/[^A-Za-z0-9._-]/g, '-') }
      : {};
  const subgraphs = SUBGRAPH_SERVICES.map((entry) => ({
    name: entry.name,
    entry: entryOf(entry.packageName),
    env: { ...base, ...ownPorts(entry), ...instance(entry) },
    healthUrl: healthUrl(entry),
  }));
  const graphqlUrl = (entry: ServiceEntry) => `http://${reach}:${portOf(entry)}/graphql`;
  const urls = Object.fromEntries(SUBGRAPH_SERVICES.map((entry) => [entry.urlEnv, graphqlUrl(entry)]));
  const { DATABASE_URL: _db, ...gatewayBase } = base;
  const gateway = {
    name: GATEWAY_SERVICE.name,
    entry: entryOf(GATEWAY_SERVICE.packageName),
    // The gateway's heap flags (young generation sized for its per-request garbage), after any inherited ones.
    env: {
      ...gatewayBase,
      ...urls,
      ...ownPorts(GATEWAY_SERVICE),
      NODE_OPTIONS: [inherited.NODE_OPTIONS, GATEWAY_NODE_OPTIONS].filter(Boolean).join(' '),
    },
    healthUrl: healthUrl(GATEWAY_SERVICE),
  };
  return {
    subgraphs,
    gateway,
    gatewayUrl: graphqlUrl(GATEWAY_SERVICE),
    subgraphUrls: Object.fromEntries(SUBGRAPH_SERVICES.map((entry) => [entry.name, graphqlUrl(entry)])),
  };
}
