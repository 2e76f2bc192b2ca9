import type { LogReader, StartPosition } from '@taskgraph/events';
import type { EntityManager } from '@taskgraph/runtime';

/** This process's consumer groups: unique per instance, so every instance receives every event. */
export interface SyncGroups {
  taskUpdates: string;
  reminders: string;
}

export const syncGroups = (instanceId: string): SyncGroups => ({
  taskUpdates: `sync-${instanceId}`,
  reminders: `sync-${instanceId}`,
});

/** Where this process's new consumer groups start (`Subscription.startAt`). */
export interface SyncStart {
  taskUpdates: StartPosition;
  reminders: StartPosition;
}

const run = (tx: EntityManager, sql: string, params: unknown[] = []) =>
  tx.getConnection().execute(sql, params, 'run', tx.getTransactionContext());

/**
 * Prepares the feed before the bus starts.
 *
 * 1. The first sync process ever records where the window starts being complete (`complete_from`
 *    = the log head then, as the bus's log reader reports it): older cursors were never ingested
 *    and cannot be resumed from.
 * 2. Where this instance's groups start when they are new (embedded mode; each instance's group is
 *    new on every start unless SYNC_INSTANCE_ID is fixed): after the window's head for
 *    `task-updates` (what is after it is not stored yet: catch up from there) and at the log head
 *    for `reminders` (no replay). An existing group keeps its offset (the bus's `startAt` contract).
 *
 * Offsets of dead instances (`sync-<old id>` groups) are harmless: nothing waits for them and
 * `lag()` only reports this process's groups.
 */
export async function prepareConsumers(em: EntityManager, log: LogReader): Promise<SyncStart> {
  const head = await log.horizon();
  const rows = await em.transactional(async (tx) => {
    await run(tx, `insert into "sync"."feed_state" ("id", "complete_from") values (1, ?) on conflict ("id") do nothing`, [head]);
    return (await tx.getConnection().execute(
      `select greatest(fs."complete_from", fs."pruned_through", coalesce((select max("cursor") from "sync"."task_update"), 0))::text as start
           from "sync"."feed_state" fs where fs."id" = 1`,
      [],
      'all',
      tx.getTransactionContext(),
    )) as { start: string }[];
  });
  return { taskUpdates: { after: String(rows[0]?.start ?? head) }, reminders: 'latest' };
}
