import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GATEWAY_NODE_OPTIONS } from '@taskgraph/runtime';
import type { GatewayKind, GatewayProcessConfig } from '../procs/gateway.js';
import type { SystemInfo } from '../procs/system.js';
import { type Child, procPath, startChild } from './child.js';
import { cpuProfileFlags } from './cpuprofile.js';
import { repoRoot } from './report.js';

/** The user every benchmark acts as. */
export const BENCH_USER = 'bench-user';

export interface RunningSystemChild {
  child: Child<SystemInfo>;
  info: SystemInfo;
  /** A client JWT for the benchmark user (verified by our gateway; plain gateways ignore it). */
  token: string;
  /** An internal token for the benchmark user (what plain gateways forward). */
  internalToken: string;
  supergraphPath: string;
  graphql<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Promise<T>;
  sql<T = Record<string, unknown>>(text: string, values?: unknown[]): Promise<T[]>;
  stop(): Promise<void>;
}

/** Per-run directory for CPU profiles: `bench/profiles/<bench>/<process>`. */
export function profileDir(bench: string, processName: string): string {
  const dir = resolve(repoRoot, 'bench', 'profiles', bench, processName);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Starts the subgraphs + Postgres process; `profile` names a CPU profile directory, `env` adds to its environment (and its children's). */
export async function startSystemChild(options: { profile?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunningSystemChild> {
  const child = startChild<SystemInfo>(procPath('system'), {
    name: 'system',
    // The services run with NODE_ENV=production, as the Dockerfile and k8s/ run them (libraries read it:
    // graphql-js skips its development-only `instanceOf` checks, 2-6% of the subgraphs' CPU). The
    // services' own configs stay the test ones (`startSystem`); `BENCH_PROCESSES=multi` children get the
    // launcher's environment (system-processes.ts).
    env: { NODE_ENV: 'production' },
    execArgv: options.profile ? cpuProfileFlags(options.profile) : [],
    ...(options.env ? { env: options.env } : {}),
  });
  const info = await child.ready;
  const tmp = mkdtempSync(join(tmpdir(), 'taskgraph-supergraph-'));
  const supergraphPath = join(tmp, 'supergraph.graphql');
  writeFileSync(supergraphPath, info.supergraphSdl);
  const token = await child.request<string>('token', { userId: BENCH_USER });
  const internalToken = await child.request<string>('internalToken', { userId: BENCH_USER });
  return {
    child,
    info,
    token,
    internalToken,
    supergraphPath,
    async graphql<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
      const result = await child.request<{ status: number; data?: T; errors?: { message: string }[] }>('graphql', {
        query,
        variables,
        as: BENCH_USER,
      });
      if (result.errors?.length || !result.data) throw new Error(`seed failed: ${JSON.stringify(result.errors ?? result)}`);
      return result.data;
    },
    sql: <T>(text: string, values?: unknown[]) => child.request<T[]>('sql', { text, values }),
    async stop() {
      await child.stop(60_000);
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

export interface GatewayChild {
  kind: GatewayKind;
  child: Child<{ url: string; pid: number }>;
  url: string;
}

/** Starts one gateway process in front of the system's subgraphs. */
export async function startGatewayChild(
  system: RunningSystemChild,
  kind: GatewayKind,
  options: { profile?: string; subscriptions?: Record<string, number | boolean> } = {},
): Promise<GatewayChild> {
  const config: GatewayProcessConfig = {
    supergraphPath: system.supergraphPath,
    subgraphs: system.info.subgraphs,
    internalTokenSecret: system.info.internalTokenSecret,
    internalToken: system.internalToken,
    ...(options.subscriptions ? { subscriptions: options.subscriptions } : {}),
  };
  const child = startChild<{ url: string; pid: number }>(procPath('gateway'), {
    name: `gateway:${kind}`,
    args: [kind],
    env: { BENCH_GATEWAY: JSON.stringify(config), NODE_ENV: 'production' },
    // Ours runs with the heap flags it is deployed with (launcher, k8s); the others with Node's defaults.
    execArgv: [
      '--expose-gc',
      ...(kind === 'ours' ? GATEWAY_NODE_OPTIONS.split(' ') : []),
      ...(options.profile ? cpuProfileFlags(options.profile) : []),
    ],
  });
  const { url } = await child.ready;
  return { kind, child, url };
}

/** Posts one GraphQL operation (from this process) and returns the parsed body. */
export async function postGraphQL<T = Record<string, unknown>>(
  url: string,
  token: string,
  query: string,
  variables?: Record<string, unknown>,
): Promise<{ data?: T; errors?: unknown[] }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as { data?: T; errors?: unknown[] };
}

/** Polls `check` every `intervalMs` until it returns true; throws after `timeoutMs`. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The system's processes for a `CpuMeter`: `{ subgraphs }` when they share the system process, or
 * one entry per subgraph process plus `system` (the orchestrator, whose descendants include Postgres)
 * with `BENCH_PROCESSES=multi`.
 */
export function systemProcesses(system: RunningSystemChild): Record<string, number> {
  return system.info.processes === 'multi' ? { ...system.info.pids, system: system.child.pid } : { subgraphs: system.child.pid };
}
