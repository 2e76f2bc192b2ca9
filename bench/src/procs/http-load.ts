/**
 * HTTP load generator process (undici keep-alive pool): `concurrency` closed loops POST GraphQL
 * for `warmupMs` (not recorded), then for `durationMs` (recorded). A response counts as an error
 * when it is not 200 or carries top-level GraphQL `errors`.
 */
import { Pool } from 'undici';
import { serveParent } from '../lib/child.js';
import { type LatencySummary, monotonicMs, summarize } from '../lib/stats.js';

export interface HttpLoadRequest {
  url: string;
  headers: Record<string, string>;
  /**
   * Request body; `__N__` is replaced by a unique number per request (mutations). With several
   * bodies, loop `i` always sends `body[i % length]` (distinct requests in flight at once).
   */
  body: string | string[];
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** Stop after this many recorded requests (0 = no limit). */
  maxRequests?: number;
  /**
   * Open loop: send `rate` requests per second on a fixed schedule (at most `concurrency` in flight;
   * a send due while all are busy waits for one) instead of `concurrency` closed loops.
   */
  rate?: number;
  /** Return every recorded request as `[sent at (monotonic ms), latency ms, ok]` in `timeline`. */
  timeline?: boolean;
}

export interface HttpLoadResult {
  requests: number;
  errors: number;
  firstError?: string;
  /** Measured phase length (ms). */
  elapsedMs: number;
  throughput: number;
  latency: LatencySummary;
  /** Monotonic ms (cross-process clock) of the measured phase. */
  startedAt: number;
  endedAt: number;
  timeline?: [number, number, boolean][];
}

let counter = 0;

async function run(request: HttpLoadRequest): Promise<HttpLoadResult> {
  const url = new URL(request.url);
  const pool = new Pool(url.origin, { connections: request.concurrency, pipelining: 1, keepAliveTimeout: 60_000 });
  const bodies = Array.isArray(request.body) ? request.body : [request.body];
  const headers = { 'content-type': 'application/json', ...request.headers };
  const latencies: number[] = [];
  const timeline: [number, number, boolean][] = [];
  let errors = 0;
  let firstError: string | undefined;
  let recording = false;
  let requests = 0;
  const maxRequests = request.maxRequests ?? 0;

  /** One request; its latency counts from `scheduledAt` when given (open loop: a send that waited for a connection is late). */
  const once = async (template: string, scheduledAt?: number): Promise<void> => {
    const body = template.includes('__N__') ? template.replaceAll('__N__', `${process.pid}-${++counter}`) : template;
    const t0 = scheduledAt ?? monotonicMs();
    let failure: string | undefined;
    try {
      const res = await pool.request({ path: url.pathname, method: 'POST', headers, body });
      const text = await res.body.text();
      if (res.statusCode !== 200) failure = `HTTP ${res.statusCode}: ${text.slice(0, 300)}`;
      else if (text.includes('"errors":[')) failure = text.slice(0, 300);
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error);
    }
    if (!recording) return;
    requests++;
    latencies.push(monotonicMs() - t0);
    if (request.timeline) timeline.push([t0, monotonicMs() - t0, failure === undefined]);
    if (failure) {
      errors++;
      firstError ??= failure;
    }
  };

  const loop = async (i: number, until: () => boolean) => {
    const template = bodies[i % bodies.length] as string;
    while (!until()) await once(template);
  };
  if (request.rate) {
    const rate = request.rate;
    const openLoop = async (from: number, durationMs: number, record: boolean) => {
      recording = record;
      const inFlight = new Set<Promise<void>>();
      for (let i = 0; ; i++) {
        const due = from + (i * 1000) / rate;
        if (due >= from + durationMs || (maxRequests > 0 && requests >= maxRequests)) break;
        const wait = due - monotonicMs();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        while (inFlight.size >= request.concurrency) await Promise.race(inFlight);
        const sent: Promise<void> = once(bodies[i % bodies.length] as string, due).finally(() => inFlight.delete(sent));
        inFlight.add(sent);
      }
      await Promise.all(inFlight);
    };
    await openLoop(monotonicMs(), request.warmupMs, false);
    const startedAt = monotonicMs();
    await openLoop(startedAt, request.durationMs, true);
    const endedAt = monotonicMs();
    await pool.close();
    return {
      requests,
      errors,
      ...(firstError ? { firstError } : {}),
      elapsedMs: endedAt - startedAt,
      throughput: (requests - errors) / ((endedAt - startedAt) / 1000),
      latency: summarize(latencies),
      startedAt,
      endedAt,
      ...(request.timeline ? { timeline } : {}),
    };
  }
  const warmEnd = monotonicMs() + request.warmupMs;
  await Promise.all(Array.from({ length: request.concurrency }, (_, i) => loop(i, () => monotonicMs() >= warmEnd)));
  recording = true;
  const startedAt = monotonicMs();
  const end = startedAt + request.durationMs;
  await Promise.all(
    Array.from({ length: request.concurrency }, (_, i) =>
      loop(i, () => monotonicMs() >= end || (maxRequests > 0 && requests >= maxRequests)),
    ),
  );
  const endedAt = monotonicMs();
  await pool.close();
  const elapsedMs = endedAt - startedAt;
  return {
    requests,
    errors,
    ...(firstError ? { firstError } : {}),
    elapsedMs,
    throughput: (requests - errors) / (elapsedMs / 1000),
    latency: summarize(latencies),
    startedAt,
    endedAt,
  };
}

await serveParent(
  async () => ({}),
  () => ({ run: (request: HttpLoadRequest) => run(request) }),
  () => ({ pid: process.pid }),
  async () => {},
);
