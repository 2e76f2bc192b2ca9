import { readFileSync } from 'node:fs';
import { composeSupergraph, createGateway, type Gateway, type GatewayConfig, signDevToken, subgraphSdlPath } from '@taskgraph/gateway';
import { freePort, type ServiceConfig, testServiceConfig } from '@taskgraph/runtime';
import { SUBGRAPHS, testGatewayConfig } from '@taskgraph/testing';
import { ChildService } from './child-service.js';

/** True once the sync subgraph is part of `startSystem` (its registry in packages/testing). */
export const SYNC_LANDED = SUBGRAPHS.some((s) => s.name === 'sync');
/** The subgraphs a whole-system test starts now (sync only once it is registered). */
export const SYSTEM_SUBGRAPHS: readonly string[] = SUBGRAPHS.map((s) => s.name);

export interface GraphQLResponse<T = Record<string, unknown>> {
  status: number;
  data?: T | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
}

interface InProcess {
  readonly url: string;
  close(): Promise<void>;
}

/** One subgraph of a cluster: in this process (fast) or a child process (killable with SIGKILL). */
export interface ClusterMember {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly child: ChildService | undefined;
  /** SIGKILL (child) or `close()` (in process). */
  stop(): Promise<void>;
  start(): Promise<void>;
}

export interface ClusterOptions {
  databaseUrl: string;
  /** Subgraphs to start (default: every registered one). */
  subgraphs?: readonly string[];
  /** Which of them run as child processes. */
  children?: readonly string[];
  /** Per-subgraph config overrides (JSON-serialisable for children). */
  config?: (name: string) => Partial<ServiceConfig> & Record<string, unknown>;
  gateway?: Partial<GatewayConfig>;
}

/**
 * The system on fixed free ports, some subgraphs in child processes, the real gateway in this
 * process. Like `startSystem`, but a member can be killed and started again at the same URL.
 */
export class Cluster {
  readonly members = new Map<string, ClusterMember>();
  gateway!: Gateway;
  private readonly tokens = new Map<string, string>();

  private constructor(readonly options: ClusterOptions) {}

  static async start(options: ClusterOptions): Promise<Cluster> {
    const cluster = new Cluster(options);
    try {
      await cluster.boot();
    } catch (error) {
      await cluster.close().catch(() => {});
      throw error;
    }
    return cluster;
  }

  get gatewayUrl(): string {
    return this.gateway.url;
  }

  member(name: string): ClusterMember {
    const member = this.members.get(name);
    if (!member) throw new Error(`no member ${name}`);
    return member;
  }

  private async boot(): Promise<void> {
    const names = this.options.subgraphs ?? SYSTEM_SUBGRAPHS;
    const children = new Set(this.options.children ?? []);
    const ports = await Promise.all(names.map(() => freePort()));
    // Modules load one at a time: Jest's ESM loader fails on concurrent imports of one graph.
    for (const [i, name] of names.entries()) {
      const config = { ...this.options.config?.(name) };
      const member = children.has(name) ? this.childMember(name, ports[i]!, config) : await this.inProcessMember(name, ports[i]!, config);
      this.members.set(name, member);
    }
    // Child processes start in parallel (slow: module loading); in-process ones one by one, as startSystem does.
    const members = [...this.members.values()];
    const starting = Promise.all(members.filter((m) => m.child).map((m) => m.start()));
    for (const member of members.filter((m) => !m.child)) await member.start();
    await starting;
    const subgraphs = names.map((name) => ({ name, url: this.member(name).url, sdl: readFileSync(subgraphSdlPath(name), 'utf8') }));
    this.gateway = await createGateway(
      testGatewayConfig(
        { kind: 'sdl', sdl: composeSupergraph(subgraphs) },
        Object.fromEntries(subgraphs.map(({ name, url }) => [name, url])),
        { subgraphTimeoutMs: 10_000, ...this.options.gateway },
      ),
    );
  }

  private childMember(name: string, port: number, config: Record<string, unknown>): ClusterMember {
    const child = new ChildService({ name, databaseUrl: this.options.databaseUrl, port, config });
    return {
      name,
      port,
      child,
      get url() {
        return `http://127.0.0.1:${port}/graphql`;
      },
      stop: () => child.kill(),
      start: async () => {
        await child.start();
      },
    };
  }

  private async inProcessMember(name: string, port: number, config: Partial<ServiceConfig>): Promise<ClusterMember> {
    const entry = SUBGRAPHS.find((s) => s.name === name);
    const load = entry ? entry.load : () => import(`@taskgraph/subgraph-${name}`);
    const { createService } = (await load()) as { createService(config: ServiceConfig): Promise<InProcess> };
    let running: InProcess | undefined;
    const databaseUrl = this.options.databaseUrl;
    return {
      name,
      port,
      child: undefined,
      get url() {
        return `http://127.0.0.1:${port}/graphql`;
      },
      async stop() {
        const service = running;
        running = undefined;
        await service?.close();
      },
      async start() {
        running = await createService(testServiceConfig(databaseUrl, { ...config, port }));
      },
    };
  }

  /** A client JWT for `userId` (cached: signing per request would be the bottleneck of the load). */
  async tokenFor(userId: string): Promise<string> {
    const cached = this.tokens.get(userId);
    if (cached) return cached;
    const { jwt } = this.gateway.config;
    const token = await signDevToken(userId, { secret: jwt.secret!, issuer: jwt.issuer, audience: jwt.audience });
    this.tokens.set(userId, token);
    return token;
  }

  /** One operation through the gateway as `as`; transport failures come back as status 0. */
  async graphql<T = Record<string, unknown>>(
    query: string,
    variables: Record<string, unknown> = {},
    as?: string,
    timeoutMs = 30_000,
  ): Promise<GraphQLResponse<T>> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (as) headers.authorization = `Bearer ${await this.tokenFor(as)}`;
    try {
      const res = await fetch(this.gatewayUrl, {
        method: 'POST',
        headers,
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      try {
        return { status: res.status, ...(JSON.parse(text) as object) };
      } catch {
        return { status: res.status, errors: [{ message: text.slice(0, 200), extensions: { code: 'NOT_JSON' } }] };
      }
    } catch (error) {
      return { status: 0, errors: [{ message: (error as Error).message, extensions: { code: 'TRANSPORT' } }] };
    }
  }

  async close(): Promise<void> {
    await this.gateway?.close().catch(() => {});
    await Promise.all([...this.members.values()].map((m) => (m.child ? m.child.stop() : m.stop()).catch(() => {})));
  }
}

/** `GET /readyz` of a member: its HTTP status (0 when unreachable). */
export async function readyStatus(graphqlUrl: string): Promise<number> {
  try {
    const res = await fetch(new URL('/readyz', graphqlUrl), { signal: AbortSignal.timeout(5_000) });
    await res.body?.cancel();
    return res.status;
  } catch {
    return 0;
  }
}

/** Polls until `check` holds; returns how long it took. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000, everyMs = 100): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
