import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Benchmark processes talk over the `fork` IPC channel: the parent sends `{ id, type, payload }`,
 * the child answers `{ id, ok, result | error }`. A child announces itself once with
 * `{ type: 'ready', result }` (or `{ type: 'failed', error }`).
 */
interface Request {
  id: number;
  type: string;
  payload?: unknown;
}
type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };
type Announcement = { type: 'ready'; result: unknown } | { type: 'failed'; error: string };

export interface ChildOptions {
  /** Name for errors and logs. */
  name: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Extra node flags, e.g. `--cpu-prof`. */
  execArgv?: string[];
}

/** A benchmark process started by `startChild`. */
export interface Child<TReady = unknown> {
  readonly name: string;
  readonly pid: number;
  readonly process: ChildProcess;
  /** What the child announced when it was ready. */
  readonly ready: Promise<TReady>;
  request<T = unknown>(type: string, payload?: unknown): Promise<T>;
  /** Asks the child to close what it started and exit (so `--cpu-prof` is written); kills it after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Path of a compiled process entry in `bench/dist/procs`. */
export const procPath = (name: string): string => fileURLToPath(new URL(`../procs/${name}.js`, import.meta.url));

export function startChild<TReady = unknown>(script: string, options: ChildOptions): Child<TReady> {
  const child = fork(script, options.args ?? [], {
    env: { ...process.env, ...options.env },
    execArgv: [...process.execArgv.filter((a) => !a.startsWith('--cpu-prof')), ...(options.execArgv ?? [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<TReady>((resolve, reject) => {
    child.on('message', (message: Reply | Announcement) => {
      if ('type' in message) {
        if (message.type === 'ready') resolve(message.result as TReady);
        else reject(new Error(`${options.name}: ${message.error}`));
        return;
      }
      const waiter = pending.get(message.id);
      if (!waiter) return;
      pending.delete(message.id);
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(new Error(`${options.name}: ${message.error}`));
    });
    child.once('exit', (code, signal) => {
      exited = true;
      const error = new Error(`${options.name} exited (code ${code}, signal ${signal})`);
      reject(error);
      for (const waiter of pending.values()) waiter.reject(error);
      pending.clear();
    });
  });
  ready.catch(() => {});
  return {
    name: options.name,
    pid: child.pid ?? -1,
    process: child,
    ready,
    request<T>(type: string, payload?: unknown): Promise<T> {
      if (exited) return Promise.reject(new Error(`${options.name} has exited`));
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ id, type, payload } satisfies Request);
      });
    },
    async stop(graceMs = 20_000) {
      if (exited) return;
      child.send({ id: 0, type: 'stop' } satisfies Request);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(timer);
    },
  };
}

type Handler = (payload: never) => Promise<unknown> | unknown;

/**
 * The child side: announces `start()`'s result as ready, then answers requests with `handlers`.
 * `stop` runs `close` and exits 0 (a child never outlives its parent: IPC disconnect exits too).
 */
export async function serveParent<TState>(
  start: () => Promise<TState>,
  handlers: (state: TState) => Record<string, Handler>,
  announce: (state: TState) => unknown,
  close: (state: TState) => Promise<void>,
): Promise<void> {
  const send = (message: Reply | Announcement) => process.send?.(message);
  let state: TState;
  try {
    state = await start();
  } catch (error) {
    send({ type: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    process.exit(1);
  }
  const table = handlers(state);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    try {
      await close(state);
    } finally {
      process.exit(0);
    }
  };
  process.on('disconnect', () => void stop());
  process.on('message', async (message: Request) => {
    if (message.type === 'stop') return stop();
    const handler = table[message.type];
    if (!handler) return send({ id: message.id, ok: false, error: `unknown request ${message.type}` });
    try {
      send({ id: message.id, ok: true, result: await handler(message.payload as never) });
    } catch (error) {
      send({ id: message.id, ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    }
  });
  send({ type: 'ready', result: announce(state) });
}
