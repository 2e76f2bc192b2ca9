/**
 * The service registry: every deployable service of the system, written once (CONVENTIONS §16).
 * Gateway config, each subgraph's start-up, the test system, the launcher and deploy-tests read it;
 * `dapr/dapr.yaml` and `k8s/` are checked against it by `deploy-tests/registry.test.ts`.
 */

/** One service. */
export interface ServiceSpec {
  /** Service name: logger/metrics `service` label, subgraph name in the supergraph. */
  readonly name: string;
  /** Dapr app-id, also the Kubernetes Deployment/Service name (so in-cluster URLs are `http://<appId>:<port>`). */
  readonly appId: string;
  /** Default listen port (`PORT` overrides it; 0 = any free port). */
  readonly port: number;
  /** npm workspace path (the Dockerfile's `SERVICE`, `dapr.yaml`'s `appDirPath`). */
  readonly workspace: string;
}

/** A subgraph: a service the gateway calls, which owns one Postgres schema (ARCHITECTURE §2). */
export interface SubgraphSpec extends ServiceSpec {
  /** The gateway's variable holding this subgraph's GraphQL URL. */
  readonly urlEnv: string;
  /** The Postgres schema this service owns; no other service reads or writes it. */
  readonly schema: string;
}

/** The gateway: no database; clients' only entry point. */
export const GATEWAY_SERVICE = { name: 'gateway', appId: 'gateway', port: 4000, workspace: 'gateway' } as const satisfies ServiceSpec;

/**
 * V8 flags the gateway process runs with (`npm start`'s launcher and the Kubernetes manifest's
 * `NODE_OPTIONS`; the gateway benchmark starts ours with them too). A 32 MB semi-space (V8's default
 * is 16 MB): a `TaskBoard` request allocates its subgraph answers, Apollo's merged and shaped result
 * and the serialised response, and with 16 requests in flight the default young generation filled
 * before they finished, so their objects were promoted and collected again by the old-space GC (GC:
 * 17-24% of the gateway's samples). The gain is not proven: a scratch A/B showed 10-25% less gateway CPU
 * per request than with 16 MB, the full benchmark no change in ours ÷ Apollo (BENCHMARKS.md, issue 16).
 * Costs at most 3 × 32 MB of young generation, within the manifest's 512 Mi beside `--max-old-space-size=384`.
 */
export const GATEWAY_NODE_OPTIONS = '--max-semi-space-size=32';

/** The subgraphs, in start order (the tasks service publishes what the others consume). */
export const SUBGRAPH_SERVICES = {
  tasks: { name: 'tasks', appId: 'tasks', port: 4001, workspace: 'subgraphs/tasks', urlEnv: 'SUBGRAPH_TASKS_URL', schema: 'tasks' },
  audit: { name: 'audit', appId: 'audit', port: 4002, workspace: 'subgraphs/audit', urlEnv: 'SUBGRAPH_AUDIT_URL', schema: 'audit' },
  notifications: {
    name: 'notifications',
    appId: 'notifications',
    port: 4003,
    workspace: 'subgraphs/notifications',
    urlEnv: 'SUBGRAPH_NOTIFICATIONS_URL',
    schema: 'notifications',
  },
  sync: { name: 'sync', appId: 'sync', port: 4004, workspace: 'subgraphs/sync', urlEnv: 'SUBGRAPH_SYNC_URL', schema: 'sync' },
} as const satisfies Record<string, SubgraphSpec>;

export type SubgraphName = keyof typeof SUBGRAPH_SERVICES;

/** Subgraph names in start order. */
export const SUBGRAPH_NAMES = Object.keys(SUBGRAPH_SERVICES) as SubgraphName[];

/** Every service: the gateway, then the subgraphs in start order. */
export const ALL_SERVICES: readonly ServiceSpec[] = [GATEWAY_SERVICE, ...Object.values(SUBGRAPH_SERVICES)];

/** Whether `name` is a registered subgraph. */
export const isSubgraphName = (name: string): name is SubgraphName => Object.hasOwn(SUBGRAPH_SERVICES, name);

/** A subgraph's GraphQL endpoint on this machine at its default port. */
export const localSubgraphUrl = (name: SubgraphName): string => `http://127.0.0.1:${SUBGRAPH_SERVICES[name].port}/graphql`;
