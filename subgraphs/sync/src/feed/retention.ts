import type { Database, Logger } from '@taskgraph/runtime';

/**
 * Retention of the replay window (`sync.task_update`): rows older than `retentionSeconds` (24 h by
 * default) AND beyond the newest `maxPerUser` (1 000 by default) of each user are deleted.
 *
 * Why both: 24 h covers the usual disconnects (a laptop asleep overnight, a phone offline for a
 * day) so those clients resume with a few updates instead of refetching everything. The per-user
 * cap bounds what one resume can cost: every replayed update makes the gateway fetch its entity,
 * so beyond ~1 000 updates a full refetch (one paginated query) is cheaper; it also bounds the
 * table against one user's bulk edits. Either way the client gets an explicit RESYNC_REQUIRED,
 * never a silent gap: the highest pruned cursor is remembered per user (`user_watermark`).
 */
export interface RetentionPolicy {
  retentionSeconds: number;
  maxPerUser: number;
}

/** Rows deleted per statement, so a large backlog is pruned in short transactions. */
const BATCH = 5_000;

const PRUNE_OLD = `
  with doomed as (
    delete from "sync"."task_update" where "cursor" in (
      select "cursor" from "sync"."task_update" where "occurred_at" < now() - make_interval(secs => ?) order by "occurred_at" limit ?
    ) returning "user_id", "cursor"
  ), ${markWatermarksSql()}`;

const PRUNE_OVER_CAP = `
  with doomed as (
    delete from "sync"."task_update" t using (
      select u.user_id, (select c."cursor" from "sync"."task_update" c where c."user_id" = u.user_id order by c."cursor" desc offset ? limit 1) as cut
        from jsonb_array_elements_text(?::jsonb) as u(user_id)
    ) k
    where t."user_id" = k.user_id and t."cursor" <= k.cut
    returning t."user_id", t."cursor"
  ), ${markWatermarksSql()}`;

/** Shared tail: per-user watermark upsert, global pruned cursor, deleted count. */
function markWatermarksSql(): string {
  return `
  per_user as (select "user_id", max("cursor") as through from doomed group by "user_id"),
  marks as (
    insert into "sync"."user_watermark" ("user_id", "pruned_through") select "user_id", through from per_user
    on conflict ("user_id") do update set "pruned_through" = greatest("sync"."user_watermark"."pruned_through", excluded."pruned_through")
    returning 1
  )
  update "sync"."feed_state" set "pruned_through" = greatest("pruned_through", coalesce((select max(through) from per_user), 0))
   where "id" = 1
  returning (select count(*) from doomed) as deleted, (select count(*) from marks) as users`;
}

/**
 * Prunes the window now. One instance at a time (transaction advisory lock; the others skip this
 * round). Returns the rows deleted, or `undefined` when another instance held the lock.
 */
export async function pruneWindow(db: Database, policy: RetentionPolicy, touchedUsers: Iterable<string>): Promise<number | undefined> {
  const users = [...touchedUsers];
  return db.fork().transactional(async (tx) => {
    const connection = tx.getConnection();
    const ctx = tx.getTransactionContext();
    const locked = (await connection.execute(`select pg_try_advisory_xact_lock(hashtext('sync:prune')) as ok`, [], 'all', ctx)) as {
      ok: boolean;
    }[];
    if (!locked[0]?.ok) return undefined;
    let deleted = 0;
    for (;;) {
      const rows = (await connection.execute(PRUNE_OLD, [policy.retentionSeconds, BATCH], 'all', ctx)) as { deleted: string }[];
      const n = Number(rows[0]?.deleted ?? 0);
      deleted += n;
      if (n < BATCH) break;
    }
    for (let i = 0; i < users.length; i += 500) {
      const chunk = users.slice(i, i + 500);
      const rows = (await connection.execute(PRUNE_OVER_CAP, [policy.maxPerUser, JSON.stringify(chunk)], 'all', ctx)) as {
        deleted: string;
      }[];
      deleted += Number(rows[0]?.deleted ?? 0);
    }
    return deleted;
  });
}

/** Runs `pruneWindow` every `intervalMs` (unref'd timer; `stop()` waits for a round in progress). */
export class RetentionPruner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly db: Database,
    private readonly policy: RetentionPolicy,
    /** Users with new rows since the last round (filled by the ingest handler). */
    private readonly touchedUsers: Set<string>,
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.schedule();
  }

  /** One round now (also what the timer runs). */
  async runOnce(): Promise<number | undefined> {
    const users = [...this.touchedUsers];
    const deleted = await pruneWindow(this.db, this.policy, users);
    // Only forget the users this round covered (new ones may have arrived meanwhile).
    if (deleted !== undefined) for (const user of users) this.touchedUsers.delete(user);
    if (deleted) this.logger.info({ deleted }, 'pruned the replay window');
    return deleted;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.runOnce()
        .then(
          () => undefined,
          (error) => this.logger.error({ err: error }, 'pruning the replay window failed'),
        )
        .finally(() => this.schedule());
    }, this.intervalMs);
    this.timer.unref();
  }
}
