import type { EntityManager, HttpRoute } from '@taskgraph/runtime';
import type { HandlerResult, Job, JobHandler, Scheduler } from './bus.js';
import { errorMessage } from './error-message.js';
import { NotificationListener } from './pg-listener.js';
import { DEFAULT_JOB_FAILURE_POLICY, type SchedulerOptions } from './scheduler-options.js';
import { executeSql, Rollback } from './tx-sql.js';

/** NOTIFY channel raised by schedule/delete (payload: app-id) so timers re-arm. */
export const JOBS_CHANNEL = 'bus_jobs';
/** When due jobs exist but another process holds them, look again after this long. */
const BUSY_RECHECK_MS = 100;
/** setTimeout's ceiling is ~24.8 days; longer waits re-arm. */
const MAX_TIMER_MS = 2_147_483_647;

interface JobRow {
  name: string;
  data: Record<string, unknown>;
  attempts: number;
  max_retries: number;
  retry_interval_ms: number;
  /** `due_at::text`: microsecond-exact, for the compare-and-set after a failure. */
  due_text: string;
}

/**
 * Embedded scheduler (ARCHITECTURE §3): `bus.jobs` with Dapr Jobs semantics — named, overwrite on
 * re-schedule, delete, at-least-once, never early (due is compared with the database clock).
 * One timer is armed for the next due job and re-armed on NOTIFY `bus_jobs` and after each run;
 * due jobs are claimed with `FOR UPDATE SKIP LOCKED`, so several processes never double-fire.
 * The handler runs in the claiming transaction: SUCCESS commits its writes with the job's deletion.
 */
export class EmbeddedScheduler implements Scheduler {
  readonly mode = 'embedded' as const;
  private handler: JobHandler | undefined;
  private listener: NotificationListener | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private rearmRequested = false;
  private started = false;
  private closed = false;

  constructor(private readonly options: SchedulerOptions) {}

  private get policy() {
    return this.options.failurePolicy ?? DEFAULT_JOB_FAILURE_POLICY;
  }

  /** Upserts the job; with `tx` it commits (and wakes the timers) with the caller's transaction. */
  async schedule(job: Job, tx?: EntityManager): Promise<void> {
    const em = tx ?? this.options.db.fork();
    await executeSql(
      em,
      `insert into bus.jobs (app_id, name, due_at, data, attempts, max_retries, retry_interval_ms)
       values (?, ?, ?, ?::jsonb, 0, ?, ?)
       on conflict (app_id, name) do update set due_at = excluded.due_at, data = excluded.data, attempts = 0,
         max_retries = excluded.max_retries, retry_interval_ms = excluded.retry_interval_ms, created_at = now()`,
      [this.options.appId, job.name, job.dueTime.toISOString(), JSON.stringify(job.data), this.policy.maxRetries, this.policy.intervalMs],
    );
    await this.notify(em);
  }

  async delete(name: string, tx?: EntityManager): Promise<void> {
    const em = tx ?? this.options.db.fork();
    await executeSql(em, 'delete from bus.jobs where app_id = ? and name = ?', [this.options.appId, name]);
    await this.notify(em);
  }

  onTrigger(handler: JobHandler): void {
    this.handler = handler;
    if (this.started) this.rearm();
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.listener = new NotificationListener({
      url: this.options.db.url,
      channels: [JOBS_CHANNEL],
      logger: this.options.logger,
      onNotify: (_channel, payload) => {
        if (payload === this.options.appId) this.rearm();
      },
      onResync: () => this.rearm(),
      safetyCheckMs: this.options.safetyCheckMs,
    });
    await this.listener.start();
  }

  routes(): HttpRoute[] {
    return [];
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.listener?.close();
    await this.running;
  }

  private async notify(em: EntityManager): Promise<void> {
    await executeSql(em, 'select pg_notify(?, ?)', [JOBS_CHANNEL, this.options.appId]);
  }

  /** Runs due jobs now (if idle), then arms the timer for the next one. */
  private rearm(): void {
    if (this.closed || !this.started) return;
    if (this.running) {
      this.rearmRequested = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    this.running = this.runAndArm().finally(() => {
      this.running = undefined;
      if (this.rearmRequested) {
        this.rearmRequested = false;
        this.rearm();
      }
    });
  }

  private async runAndArm(): Promise<void> {
    if (!this.handler) return;
    let delay: number;
    try {
      const claimedNone = await this.runDueJobs();
      delay = await this.nextDelay();
      if (delay <= 0 && claimedNone) delay = BUSY_RECHECK_MS;
    } catch (error) {
      this.options.logger.error({ err: error }, 'scheduler failed; re-checking shortly');
      delay = 1_000;
    }
    if (this.closed) return;
    this.timer = setTimeout(() => this.rearm(), Math.min(Math.max(delay, 0), this.options.safetyCheckMs ?? 30_000, MAX_TIMER_MS));
    this.timer.unref();
  }

  /** Milliseconds until the earliest job of this app is due (by the database clock); Infinity when none. */
  private async nextDelay(): Promise<number> {
    const { rows } = await executeSql<{ ms: string | number | null }>(
      this.options.db.fork(),
      'select extract(epoch from (min(due_at) - now())) * 1000 as ms from bus.jobs where app_id = ?',
      [this.options.appId],
    );
    const ms = rows[0]?.ms;
    return ms === null || ms === undefined ? Number.POSITIVE_INFINITY : Math.ceil(Number(ms));
  }

  /** Claims and runs due jobs one by one; true when it found none it could claim. */
  private async runDueJobs(): Promise<boolean> {
    let claimedAny = false;
    while (!this.closed) {
      const claimed = await this.runOne();
      if (!claimed) break;
      claimedAny = true;
    }
    return !claimedAny;
  }

  private async runOne(): Promise<boolean> {
    const handler = this.handler;
    if (!handler) return false;
    const { appId, logger } = this.options;
    let job: JobRow | undefined;
    let result: HandlerResult;
    try {
      await this.options.db.fork().transactional(async (tx) => {
        const { rows } = await executeSql<JobRow>(
          tx,
          `select name, data, attempts, max_retries, retry_interval_ms, due_at::text as due_text from bus.jobs
            where app_id = ? and due_at <= now() order by due_at limit 1 for update skip locked`,
          [appId],
        );
        job = rows[0];
        if (!job) return;
        const handled = await handler({ name: job.name, data: job.data }, tx);
        if (handled.status !== 'SUCCESS') throw new Rollback(handled);
        await executeSql(tx, 'delete from bus.jobs where app_id = ? and name = ?', [appId, job.name]);
      });
      if (!job) return false;
      result = { status: 'SUCCESS' };
    } catch (error) {
      if (!job) throw error;
      if (error instanceof Rollback) {
        result = error.outcome as HandlerResult;
      } else {
        logger.error({ err: error, job: job.name }, 'job handler failed');
        result = { status: 'RETRY', reason: errorMessage(error) };
      }
    }
    if (result.status !== 'SUCCESS') await this.afterFailure(job, result);
    return true;
  }

  /**
   * DROP deletes the job; RETRY pushes it back by the retry interval until `max_retries` is spent.
   * Both only touch the version that ran: a job re-scheduled meanwhile (attempts reset, new due)
   * is left alone.
   */
  private async afterFailure(job: JobRow, result: HandlerResult): Promise<void> {
    const { appId, logger } = this.options;
    const em = this.options.db.fork();
    const sameVersion = 'app_id = ? and name = ? and attempts = ? and due_at = ?::timestamptz';
    const versionParams = [appId, job.name, job.attempts, job.due_text];
    const failures = job.attempts + 1;
    if (result.status === 'DROP' || failures > job.max_retries) {
      await executeSql(em, `delete from bus.jobs where ${sameVersion}`, versionParams);
      logger.warn({ job: job.name, status: result.status, reason: result.reason, attempts: failures }, 'job given up');
      return;
    }
    await executeSql(
      em,
      `update bus.jobs set attempts = attempts + 1, due_at = now() + make_interval(secs => retry_interval_ms / 1000.0) where ${sameVersion}`,
      versionParams,
    );
    logger.info({ job: job.name, reason: result.reason, attempt: failures }, 'job will be retried');
  }
}
