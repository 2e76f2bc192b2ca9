import { type HttpRoute, sendJson } from '@taskgraph/runtime';
import type { HandlerResult, Job, JobHandler, Scheduler } from './bus.js';
import { requireDaprAppToken } from './dapr-app-token.js';
import { callDapr } from './dapr-http.js';
import { errorMessage } from './error-message.js';
import type { DaprSidecarConfig } from './event-bus-options.js';
import { type JobsApiVersion, resolveJobsApi } from './jobs-api.js';
import { DEFAULT_JOB_FAILURE_POLICY, protoJsonDuration, type SchedulerOptions } from './scheduler-options.js';
import { Rollback } from './tx-sql.js';

/** Body of `POST /v1.0/jobs/{name}` (Dapr ≥ 1.18) or `/v1.0-alpha1/jobs/{name}` (ARCHITECTURE §5). */
export interface DaprJobRequest {
  dueTime: string;
  repeats: 1;
  data: Record<string, unknown>;
  overwrite: true;
  /** `interval` is a protobuf-JSON duration (`5s`, `0.2s`): daprd decodes the body with protojson. */
  failurePolicy: { constant: { interval: string; maxRetries: number } };
}

/**
 * Dapr Jobs adapter (ARCHITECTURE §5): schedules through the sidecar's HTTP API (`@dapr/dapr` 3.18 has
 * no jobs client) and serves the trigger callback `POST /job/{name}`. The route (stable `v1.0` on
 * Dapr ≥ 1.18, `v1.0-alpha1` before) is chosen once, on the first call, from `dapr.jobsApi` or the
 * sidecar's reported runtime version (`resolveJobsApi`); a failed job call is never retried on the other route.
 */
export class DaprScheduler implements Scheduler {
  readonly mode = 'dapr' as const;
  private handler: JobHandler | undefined;
  private readonly dapr: DaprSidecarConfig;
  private api: Promise<JobsApiVersion> | undefined;

  constructor(private readonly options: SchedulerOptions) {
    if (!options.dapr) throw new Error('dapr mode needs the sidecar config (DAPR_HOST, DAPR_HTTP_PORT)');
    this.dapr = { pubsubName: 'pubsub', ...options.dapr };
  }

  /** The exact request body sent for `job`. */
  requestBody(job: Job): DaprJobRequest {
    const policy = this.options.failurePolicy ?? DEFAULT_JOB_FAILURE_POLICY;
    return {
      dueTime: job.dueTime.toISOString(),
      repeats: 1,
      data: job.data,
      overwrite: true,
      failurePolicy: { constant: { interval: protoJsonDuration(policy.intervalMs), maxRetries: policy.maxRetries } },
    };
  }

  /** The Jobs route this scheduler uses, resolved on first use; a failed resolution is retried on the next call. */
  jobsApi(): Promise<JobsApiVersion> {
    this.api ??= resolveJobsApi(this.dapr, this.options.logger).catch((error: unknown) => {
      this.api = undefined;
      throw error;
    });
    return this.api;
  }

  private async jobPath(name: string): Promise<string> {
    return `/${await this.jobsApi()}/jobs/${encodeURIComponent(name)}`;
  }

  /** Calls the sidecar at once, whatever `tx`: overwrite makes a retried caller safe. */
  async schedule(job: Job): Promise<void> {
    const response = await callDapr(this.dapr, 'POST', await this.jobPath(job.name), {
      body: JSON.stringify(this.requestBody(job)),
      contentType: 'application/json',
    });
    if (response.status < 200 || response.status >= 300) {
      throw new Error(`scheduling job ${job.name} failed: HTTP ${response.status} ${response.text.slice(0, 200)}`);
    }
  }

  async delete(name: string): Promise<void> {
    const response = await callDapr(this.dapr, 'DELETE', await this.jobPath(name));
    if (response.status === 404 || (response.status >= 200 && response.status < 300)) return;
    throw new Error(`deleting job ${name} failed: HTTP ${response.status} ${response.text.slice(0, 200)}`);
  }

  onTrigger(handler: JobHandler): void {
    this.handler = handler;
  }

  /** Chooses the Jobs route now when the sidecar answers (else on the first call), so it is logged at boot. */
  async start(): Promise<void> {
    await this.jobsApi().catch((error: unknown) =>
      this.options.logger.warn({ reason: errorMessage(error) }, 'Dapr sidecar not answering yet; Jobs route chosen on first use'),
    );
  }

  /** `POST /job/<name>`, behind the app token when `dapr.appToken` is set. */
  routes(): HttpRoute[] {
    return requireDaprAppToken(this.triggerRoutes(), this.dapr.appToken);
  }

  private triggerRoutes(): HttpRoute[] {
    return [
      {
        method: 'POST',
        path: /^\/job\/([^/]+)$/,
        handle: async (request, res) => {
          const name = request.params[0] ?? '';
          const status = await this.trigger(name, request.body);
          // 2xx = done; anything else makes Dapr retry per the failure policy.
          sendJson(res, status === 'RETRY' ? 500 : 200, { status });
        },
      },
    ];
  }

  private async trigger(name: string, body: Buffer): Promise<HandlerResult['status']> {
    const { logger } = this.options;
    const handler = this.handler;
    if (!handler) {
      logger.warn({ job: name }, 'job triggered before a handler was registered');
      return 'RETRY';
    }
    let data: Record<string, unknown>;
    try {
      const parsed: unknown = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('job data is not an object');
      data = parsed as Record<string, unknown>;
    } catch (error) {
      logger.warn({ job: name, reason: errorMessage(error) }, 'malformed job trigger dropped');
      return 'DROP';
    }
    try {
      await this.options.db.fork().transactional(async (tx) => {
        const result = await handler({ name, data }, tx);
        if (result.status !== 'SUCCESS') throw new Rollback(result);
      });
      return 'SUCCESS';
    } catch (error) {
      if (error instanceof Rollback) {
        const result = error.outcome as HandlerResult;
        const log = result.status === 'DROP' ? logger.warn.bind(logger) : logger.info.bind(logger);
        log({ job: name, status: result.status, reason: result.reason }, 'job not completed');
        return result.status;
      }
      logger.error({ err: error, job: name }, 'job handler failed; Dapr will retry');
      return 'RETRY';
    }
  }

  async close(): Promise<void> {}
}
