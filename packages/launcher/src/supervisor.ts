import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Logger } from '@taskgraph/runtime';
import { linePrefixer } from './line-prefix.js';

/** One service process the launcher runs: its built entry point and environment. */
export interface ChildSpec {
  /** Service name (log prefix, reports). */
  readonly name: string;
  /** Absolute path of the service's built `index.js`. */
  readonly entry: string;
  /** The child's whole environment. */
  readonly env: NodeJS.ProcessEnv;
  /**
   * `/healthz` of the service: the child counts as up once it answers 2xx. Without one, the child
   * counts as up when it sends the IPC message `{ ready: true, ... }`.
   */
  readonly healthUrl?: string;
  /** Node flags for the child, before its entry (e.g. `--cpu-prof`, which `NODE_OPTIONS` may not carry). */
  readonly nodeArgs?: readonly string[];
}

/** Restart and stop timing; defaults in `DEFAULT_SUPERVISION`. */
export interface SupervisionOptions {
  /** First restart delay; doubled after every crash in a row, up to `maxBackoffMs`. */
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** A child that ran this long before crashing restarts after `initialBackoffMs` again. */
  stableAfterMs: number;
  /** A child that exits this many times before it was ever healthy fails `ready()` (e.g. port in use). */
  maxStartFailures: number;
  /** SIGTERM, then SIGKILL after this long (the services' own shutdown gives up after 15 s). */
  stopTimeoutMs: number;
}

export const DEFAULT_SUPERVISION: SupervisionOptions = {
  initialBackoffMs: 250,
  maxBackoffMs: 15_000,
  stableAfterMs: 30_000,
  maxStartFailures: 3,
  stopTimeoutMs: 20_000,
};

/** A service process kept running: restarted with backoff when it exits unexpectedly. */
export interface SupervisedChild {
  readonly name: string;
  /** Pid of the current process, if one is running. */
  pid(): number | undefined;
  /** Unexpected exits so far. */
  crashes(): number;
  /**
   * Resolves once the first process is up (with its ready message, if it sends one); rejects after
   * `maxStartFailures` early exits.
   */
  ready(): Promise<unknown>;
  /** SIGTERM (SIGKILL after `stopTimeoutMs`) and no more restarts; resolves when the process has exited. */
  stop(): Promise<void>;
}

/** The guard beside this module (`dist/`); from the sources (Jest) the built one. */
const GUARD = [new URL('./child-guard.js', import.meta.url), new URL('../dist/child-guard.js', import.meta.url)].find((url) =>
  existsSync(fileURLToPath(url)),
)?.href;

/**
 * Starts `spec` as a separate `node` process (as a Kubernetes pod would run it): its stdout and
 * stderr are written line by line behind `prefix`; an exit the launcher did not ask for is logged
 * and followed by a restart with exponential backoff.
 */
export function superviseChild(
  spec: ChildSpec,
  prefix: string,
  write: (text: string) => void,
  logger: Logger,
  options: SupervisionOptions = DEFAULT_SUPERVISION,
): SupervisedChild {
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let stopping = false;
  let everHealthy = false;
  let crashes = 0;
  let crashesInARow = 0;
  let earlyExits = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  let settleReady: { resolve(value?: unknown): void; reject(error: Error): void } | undefined;
  const readyPromise = new Promise<unknown>((resolve, reject) => {
    settleReady = { resolve, reject };
  });
  readyPromise.catch(() => {}); // observed through ready()

  const up = (proc: ChildProcess, message?: unknown) => {
    logger.info({ child: spec.name, pid: proc.pid }, 'healthy');
    everHealthy = true;
    settleReady?.resolve(message);
  };

  const pollHealth = async (proc: ChildProcess, healthUrl: string) => {
    while (child === proc && proc.exitCode === null && proc.signalCode === null && !stopping) {
      try {
        const res = await fetch(healthUrl, { signal: AbortSignal.timeout(1_000) });
        if (res.ok) return up(proc);
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const start = () => {
    restartTimer = undefined;
    if (stopping) return;
    const started = Date.now();
    if (!GUARD) throw new Error('child-guard.js not found: build the launcher (npx tsc -b)');
    const proc = spawn(process.execPath, [...(spec.nodeArgs ?? []), '--import', GUARD, spec.entry], {
      env: spec.env,
      // Own process group: a terminal's Ctrl-C reaches the launcher only, which stops the children in order.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    child = proc;
    const out = linePrefixer(prefix, write);
    const err = linePrefixer(prefix, write);
    proc.stdout!.on('data', (chunk: Buffer) => out.push(chunk));
    proc.stderr!.on('data', (chunk: Buffer) => err.push(chunk));
    logger.info({ child: spec.name, pid: proc.pid, entry: spec.entry }, 'started');
    exited = new Promise<void>((resolve) => {
      proc.once('exit', (code, signal) => {
        out.flush();
        err.flush();
        if (child === proc) child = undefined;
        resolve();
        if (stopping) {
          logger.info({ child: spec.name, pid: proc.pid, code, signal }, 'stopped');
          return;
        }
        crashes++;
        crashesInARow = Date.now() - started >= options.stableAfterMs ? 1 : crashesInARow + 1;
        if (!everHealthy && ++earlyExits >= options.maxStartFailures) {
          logger.error(
            { child: spec.name, pid: proc.pid, code, signal, exits: earlyExits },
            'exited before it was ever healthy; giving up',
          );
          settleReady?.reject(new Error(`${spec.name} exited ${earlyExits} times before it was up (last: code ${code}, signal ${signal})`));
          return;
        }
        const delay = Math.min(options.maxBackoffMs, options.initialBackoffMs * 2 ** (crashesInARow - 1));
        logger.error({ child: spec.name, pid: proc.pid, code, signal, crashes, restartInMs: delay }, 'exited unexpectedly; restarting');
        restartTimer = setTimeout(start, delay);
      });
    });
    proc.once('error', (error) => logger.error({ child: spec.name, err: error }, 'spawn failed'));
    // An IPC channel that breaks (EPIPE) while the child dies is reported by 'exit' already.
    proc.on('error', () => {});
    if (spec.healthUrl) void pollHealth(proc, spec.healthUrl);
    else proc.on('message', (message) => (message as { ready?: boolean }).ready && up(proc, message));
  };

  start();

  return {
    name: spec.name,
    pid: () => child?.pid,
    crashes: () => crashes,
    ready: () => readyPromise,
    async stop() {
      stopping = true;
      if (restartTimer) clearTimeout(restartTimer);
      settleReady?.reject(new Error(`${spec.name} stopped before it was healthy`));
      const proc = child;
      if (!proc) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => {
        logger.error({ child: spec.name, pid: proc.pid }, `did not stop within ${options.stopTimeoutMs} ms; killing`);
        proc.kill('SIGKILL');
      }, options.stopTimeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
