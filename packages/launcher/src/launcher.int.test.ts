/**
 * `npm start` as a user runs it: the built launcher as a real process, with its own embedded
 * Postgres, every service in its own process on free ports (PORT=0). Proves one process per
 * service, an event crossing processes (tasks → bus → audit), a SIGKILLed service reported and
 * restarted, and SIGINT stopping every process (no orphans, Postgres included).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_JWT_AUDIENCE, DEFAULT_JWT_ISSUER, DEV_JWT_SECRET, signDevToken } from '@taskgraph/gateway';
import { waitFor } from '@taskgraph/testing';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const MAIN = join(ROOT, 'packages/launcher/dist/index.js');
const SERVICES = ['postgres', 'tasks', 'audit', 'notifications', 'sync', 'gateway'];

interface LogLine {
  msg?: string;
  child?: string;
  pid?: number;
  signal?: string | null;
  code?: number | null;
  url?: string;
}

/** The launcher process and what it printed: its own JSON lines and its children's prefixed ones. */
class LauncherProcess {
  readonly output: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly proc: ChildProcess) {
    let pending = '';
    const collect = (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      this.output.push(...lines);
    };
    proc.stdout!.on('data', collect);
    proc.stderr!.on('data', collect);
    this.exited = new Promise((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  }

  /** The launcher's own events (unprefixed JSON lines). */
  events(): LogLine[] {
    return this.output.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
  }

  /** JSON lines a child wrote (behind its `name | ` prefix). */
  childLines(name: string): LogLine[] {
    const prefix = new RegExp(`^${name}\\s*\\| (\\{.*)$`);
    return this.output.flatMap((l) => {
      const m = prefix.exec(l);
      return m ? [JSON.parse(m[1]!) as LogLine] : [];
    });
  }

  tail(n = 40): string {
    return this.output.slice(-n).join('\n');
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm start launcher: one process per service', () => {
  let dataDir: string;
  let launcher: LauncherProcess;
  let gatewayUrl: string;
  let token: string;
  const pids = new Map<string, number>();
  let postmasterPid = 0;

  interface TaskData {
    createTask?: { id: string };
    task?: { history: { edges: { node: { action: string } }[] } } | null;
  }
  const graphql = async (query: string, variables: Record<string, unknown> = {}) => {
    const res = await fetch(gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as { data?: TaskData | null; errors?: { message: string }[] };
  };

  /** Creates a task through the gateway and waits for its audit entry (written by the audit process). */
  const createAndAudit = async (title: string) => {
    const created = await graphql('mutation ($t: String!) { createTask(input: { title: $t }) { id } }', { t: title });
    expect(created.errors).toBeUndefined();
    const id = created.data!.createTask!.id;
    const history = await waitFor(
      `the audit entry of ${title}`,
      async () => {
        const res = await graphql('query ($id: ID!) { task(id: $id) { history(first: 5) { edges { node { action } } } } }', { id });
        const actions = (res.data?.task?.history.edges ?? []).map((e) => e.node.action);
        return actions.length > 0 ? actions : undefined;
      },
      20_000,
      100,
    );
    expect(history).toEqual(['CREATED']);
  };

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npx tsc -b\` first (npm start builds it)`);
    dataDir = mkdtempSync(join(tmpdir(), 'taskgraph-launcher-'));
    await chmod(dataDir, 0o755); // the unprivileged postgres user must reach its data directory
    const { DATABASE_URL: _unset, ...env } = process.env;
    const proc = spawn(process.execPath, [MAIN], {
      cwd: ROOT,
      // The test runs under Jest's --experimental-vm-modules; the launcher does not need it.
      env: { ...env, NODE_OPTIONS: '', NODE_ENV: 'development', PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    launcher = new LauncherProcess(proc);
    gatewayUrl = await waitFor(
      'the launcher to print the gateway URL',
      () => {
        if (proc.exitCode !== null) throw new Error(`launcher exited (${proc.exitCode}):\n${launcher.tail()}`);
        return launcher.output.map((l) => /taskgraph is running: (\S+)/.exec(l)?.[1]).find(Boolean);
      },
      90_000,
      100,
    );
    for (const e of launcher.events()) if (e.msg === 'healthy' && e.child && e.pid) pids.set(e.child, e.pid);
    postmasterPid = Number(readFileSync(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
    token = await signDevToken('alice', { secret: DEV_JWT_SECRET, issuer: DEFAULT_JWT_ISSUER, audience: DEFAULT_JWT_AUDIENCE });
  }, 120_000);

  afterAll(async () => {
    // Only if a test failed half way: nothing of this run may outlive it.
    if (launcher?.proc.exitCode === null) launcher.proc.kill('SIGKILL');
    for (const pid of [...pids.values(), postmasterPid]) if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('runs postgres, every subgraph and the gateway each in its own process', async () => {
    expect([...pids.keys()].sort()).toEqual([...SERVICES].sort());
    const distinct = new Set([...pids.values(), launcher.proc.pid]);
    expect(distinct.size).toBe(SERVICES.length + 1);
    for (const [name, pid] of pids) {
      expect(alive(pid)).toBe(true);
      const entry = name === 'postgres' ? 'postgres-main.js' : join(name === 'gateway' ? 'gateway' : `subgraphs/${name}`, 'dist/index.js');
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toContain(entry);
    }
    // Each subgraph answers on the URL it logged, from its own process.
    for (const name of ['tasks', 'audit', 'notifications', 'sync']) {
      const url = launcher.childLines(name).find((l) => l.msg === 'listening')?.url;
      expect(url).toBeDefined();
      const health = (await (await fetch(new URL('/healthz', url))).json()) as { service: string };
      expect(health.service).toBe(name);
    }
  });

  it('carries a mutation through the gateway to the audit process', async () => {
    await createAndAudit('across processes');
  });

  it('reports a SIGKILLed service, restarts it and works again', async () => {
    const killed = pids.get('tasks')!;
    process.kill(killed, 'SIGKILL');
    const report = await waitFor(
      'the crash report',
      () => launcher.events().find((e) => e.msg === 'exited unexpectedly; restarting' && e.child === 'tasks' && e.pid === killed),
      30_000,
      50,
    );
    expect(report.signal).toBe('SIGKILL');
    const restarted = await waitFor(
      'tasks healthy again',
      () => launcher.events().find((e) => e.msg === 'healthy' && e.child === 'tasks' && e.pid !== killed),
      30_000,
      50,
    );
    pids.set('tasks', restarted.pid!);
    expect(alive(killed)).toBe(false);
    await createAndAudit('after the restart');
  }, 60_000);

  it('stops every process on SIGINT, Postgres last, and exits 0', async () => {
    expect(alive(postmasterPid)).toBe(true);
    launcher.proc.kill('SIGINT');
    const { code } = await launcher.exited;
    expect(code).toBe(0);
    const stopped = launcher
      .events()
      .filter((e) => e.msg === 'stopped')
      .map((e) => e.child);
    expect(stopped[0]).toBe('gateway');
    expect(stopped.at(-1)).toBe('postgres');
    expect(stopped.sort()).toEqual([...SERVICES].sort());
    // Each service closed itself gracefully on SIGTERM (no second handler, e.g. Apollo's, forcing exit 1).
    const codes = launcher.events().filter((e) => e.msg === 'stopped');
    expect(codes.map((e) => [e.child, e.code])).toEqual(codes.map((e) => [e.child, 0]));
    for (const [name, pid] of pids) expect({ name, alive: alive(pid) }).toEqual({ name, alive: false });
    expect(alive(postmasterPid)).toBe(false);
  }, 60_000);
});
