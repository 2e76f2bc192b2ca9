import { appTokenHeader } from './broker-double.js';
import { parseGoDuration } from './go-duration.js';
import { parseProtoJsonDuration } from './proto-duration.js';

/** A job as the sidecar holds it. */
export interface ScheduledJob {
  name: string;
  /** As sent (RFC3339, or a Go duration relative to the request). */
  dueTime: string;
  dueAt: Date;
  data: unknown;
  repeats: number | undefined;
  overwrite: boolean;
  retryIntervalMs: number;
  maxRetries: number;
  /** Failed triggers so far. */
  failures: number;
}

/** One trigger call to the app (`POST {app}/job/{name}`). */
export interface JobTriggerRecord {
  name: string;
  attempt: number;
  data: unknown;
  httpStatus: number | undefined;
  ok: boolean;
  at: number;
}

export interface JobsReply {
  status: number;
  body?: unknown;
}

/** Dapr's default job failure policy: constant, 1 s, 3 retries. */
const DEFAULT_POLICY = { intervalMs: 1_000, maxRetries: 3 };

/**
 * The sidecar's Jobs API for one app (ARCHITECTURE §5): `POST/DELETE/GET /v1.0-alpha1/jobs/{name}` and,
 * from Dapr 1.18, `/v1.0/jobs/{name}` (the sidecar double picks which routes exist); at the due time it
 * calls `POST {app}/job/{name}` with the raw `data` JSON; 2xx/404 = done, anything else (or no answer)
 * is retried per `failurePolicy.constant` until `maxRetries` is spent. The body is checked as daprd's
 * protojson decoding does: `failurePolicy.constant.interval` must be a protobuf-JSON duration (`0.2s`),
 * a Go duration (`200ms`) is a 400 ERR_MALFORMED_REQUEST.
 */
export class JobsDouble {
  readonly triggers: JobTriggerRecord[] = [];
  private readonly jobs = new Map<string, { job: ScheduledJob; timer: NodeJS.Timeout }>();
  private closed = false;

  constructor(
    private readonly appUrl: () => string | undefined,
    private readonly appToken?: string,
  ) {}

  /** Jobs currently scheduled. */
  list(): ScheduledJob[] {
    return [...this.jobs.values()].map((j) => ({ ...j.job }));
  }

  get(name: string): ScheduledJob | undefined {
    const entry = this.jobs.get(name);
    return entry ? { ...entry.job } : undefined;
  }

  schedule(name: string, body: unknown): JobsReply {
    if (body === null || typeof body !== 'object' || Array.isArray(body))
      return error(400, 'ERR_MALFORMED_REQUEST', 'body must be a JSON object');
    const request = body as Record<string, unknown>;
    const interval = (request.failurePolicy as { constant?: { interval?: unknown } } | undefined)?.constant?.interval;
    if (interval !== undefined && (typeof interval !== 'string' || parseProtoJsonDuration(interval) === undefined)) {
      // daprd: messages.ErrMalformedRequest wrapping protojson's error, before any other check.
      return error(
        400,
        'ERR_MALFORMED_REQUEST',
        `failed deserializing HTTP body: proto: invalid google.protobuf.Duration value ${JSON.stringify(interval)}`,
      );
    }
    if (request.schedule !== undefined) return error(400, 'ERR_MALFORMED_REQUEST', 'double: `schedule` is not supported, use dueTime');
    if (typeof request.dueTime !== 'string') return error(400, 'ERR_MALFORMED_REQUEST', 'dueTime is required');
    const dueAt = parseDueTime(request.dueTime);
    if (!dueAt) return error(400, 'ERR_MALFORMED_REQUEST', `invalid dueTime ${request.dueTime}`);
    if (request.repeats !== undefined && request.repeats !== 1)
      return error(400, 'ERR_MALFORMED_REQUEST', 'double: only repeats=1 is supported');
    const overwrite = request.overwrite === true;
    if (this.jobs.has(name) && !overwrite) return error(409, 'ERR_JOBS_ALREADY_EXISTS', `job ${name} already exists`);
    const policy = parsePolicy(request.failurePolicy);
    if (!policy) return error(400, 'ERR_MALFORMED_REQUEST', 'invalid failurePolicy');
    this.cancel(name);
    const job: ScheduledJob = {
      name,
      dueTime: request.dueTime,
      dueAt,
      data: request.data ?? null,
      repeats: request.repeats as number | undefined,
      overwrite,
      retryIntervalMs: policy.intervalMs,
      maxRetries: policy.maxRetries,
      failures: 0,
    };
    this.arm(job, dueAt.getTime() - Date.now());
    return { status: 204 };
  }

  delete(name: string): JobsReply {
    if (!this.jobs.has(name)) return error(404, 'ERR_JOBS_NOT_FOUND', `job ${name} not found`);
    this.cancel(name);
    return { status: 204 };
  }

  close(): void {
    this.closed = true;
    for (const name of [...this.jobs.keys()]) this.cancel(name);
  }

  private cancel(name: string): void {
    const entry = this.jobs.get(name);
    if (entry) clearTimeout(entry.timer);
    this.jobs.delete(name);
  }

  private arm(job: ScheduledJob, delayMs: number): void {
    // setTimeout overflows past ~24.8 days; fire() re-arms when woken early.
    const timer = setTimeout(() => void this.fire(job), Math.min(Math.max(0, delayMs), 2_147_483_647));
    this.jobs.set(job.name, { job, timer });
  }

  private async fire(job: ScheduledJob): Promise<void> {
    if (this.closed || this.jobs.get(job.name)?.job !== job) return;
    // Timers may fire a millisecond early; a job never does.
    const early = (job.failures === 0 ? job.dueAt.getTime() : 0) - Date.now();
    if (early > 0) {
      this.arm(job, early);
      return;
    }
    const appUrl = this.appUrl();
    let httpStatus: number | undefined;
    if (appUrl) {
      try {
        const response = await fetch(`${appUrl}/job/${encodeURIComponent(job.name)}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...appTokenHeader(this.appToken) },
          body: JSON.stringify(job.data),
          signal: AbortSignal.timeout(5_000),
        });
        await response.arrayBuffer();
        httpStatus = response.status;
      } catch {
        httpStatus = undefined;
      }
    }
    const ok = httpStatus !== undefined && ((httpStatus >= 200 && httpStatus < 300) || httpStatus === 404);
    this.triggers.push({ name: job.name, attempt: job.failures + 1, data: job.data, httpStatus, ok, at: Date.now() });
    // Re-scheduled or deleted while the trigger was in flight: the new version stands.
    if (this.closed || this.jobs.get(job.name)?.job !== job) return;
    if (ok || job.failures >= job.maxRetries) {
      this.jobs.delete(job.name);
      return;
    }
    job.failures += 1;
    this.arm(job, job.retryIntervalMs);
  }
}

function error(status: number, errorCode: string, message: string): JobsReply {
  return { status, body: { errorCode, message } };
}

function parseDueTime(text: string): Date | undefined {
  const relative = parseGoDuration(text);
  if (relative !== undefined) return new Date(Date.now() + relative);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(text)) return undefined;
  const time = Date.parse(text);
  return Number.isNaN(time) ? undefined : new Date(time);
}

function parsePolicy(policy: unknown): { intervalMs: number; maxRetries: number } | undefined {
  if (policy === undefined) return DEFAULT_POLICY;
  if (policy === null || typeof policy !== 'object') return undefined;
  const p = policy as { constant?: { interval?: unknown; maxRetries?: unknown }; drop?: unknown };
  if (p.drop !== undefined) return { intervalMs: 0, maxRetries: 0 };
  if (!p.constant) return undefined;
  const intervalMs = typeof p.constant.interval === 'string' ? parseProtoJsonDuration(p.constant.interval) : undefined;
  const maxRetries = p.constant.maxRetries;
  if (intervalMs === undefined || intervalMs < 0 || typeof maxRetries !== 'number' || !Number.isInteger(maxRetries) || maxRetries < 0)
    return undefined;
  return { intervalMs, maxRetries };
}
