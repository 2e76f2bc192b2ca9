import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServiceConfig } from '@taskgraph/runtime';

const MAIN = resolve(dirname(fileURLToPath(import.meta.url)), 'service-main.mjs');

export interface ChildServiceOptions {
  /** Subgraph directory name (`tasks`, `audit`, `notifications`, `sync`). */
  name: string;
  databaseUrl: string;
  /** Fixed port, so a restarted process is where the gateway expects it. */
  port: number;
  /** More `testServiceConfig` overrides (JSON-serialisable: `eventBus`, `dapr`, `logLevel`...). */
  config?: Partial<ServiceConfig> & Record<string, unknown>;
  /** How long a start may take (cold module loading on a busy 2-core machine). */
  startTimeoutMs?: number;
}

/**
 * A subgraph running in its own `node` process (TypeScript sources through `ts-hooks.mjs`), so a
 * test can `kill -9` it: no `close()`, no flush, sockets cut by the kernel, open transactions
 * rolled back by Postgres. `restart()` starts a new process on the same port and database.
 */
export class ChildService {
  private child: ChildProcess | undefined;
  private output = '';
  private urlValue: string | undefined;
  /** SIGKILLs sent so far. */
  kills = 0;
  starts = 0;

  constructor(readonly options: ChildServiceOptions) {}

  get url(): string {
    if (!this.urlValue) throw new Error(`${this.options.name} has not started`);
    return this.urlValue;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The last lines the process wrote (for failure messages). */
  tail(lines = 30): string {
    return this.output.split('\n').slice(-lines).join('\n');
  }

  async start(): Promise<string> {
    if (this.child) throw new Error(`${this.options.name} is running`);
    const { name, databaseUrl, port, config = {} } = this.options;
    const child = spawn(process.execPath, [MAIN, name, databaseUrl, JSON.stringify({ ...config, port })], {
      // The parent runs under Jest's `--experimental-vm-modules`; the child does not need it.
      env: { ...process.env, NODE_OPTIONS: '', TZ: 'UTC' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.starts++;
    const record = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString('utf8')).slice(-20_000);
    };
    child.stderr!.on('data', record);
    const url = await new Promise<string>((resolveUrl, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`${name} did not start within ${this.options.startTimeoutMs ?? 60_000} ms:\n${this.tail()}`));
      }, this.options.startTimeoutMs ?? 60_000);
      child.stdout!.on('data', (chunk: Buffer) => {
        record(chunk);
        const match = /^READY (\S+)$/m.exec(this.output);
        if (match) {
          clearTimeout(timer);
          resolveUrl(match[1]!);
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited during start (code ${code}, signal ${signal}):\n${this.tail()}`));
      });
    });
    this.urlValue = url;
    return url;
  }

  /** SIGKILL, and wait until the process is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    this.output = '';
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    process.kill(child.pid!, 'SIGKILL');
    this.kills++;
    await exited;
  }

  async restart(): Promise<string> {
    await this.kill();
    return this.start();
  }

  /** Graceful stop (SIGTERM → `close()`), SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 10_000): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }
}
