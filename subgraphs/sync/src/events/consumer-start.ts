import { Topic } from '@taskgraph/events';
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

const run = (tx: EntityManager, sql: string, params: unknown[] = []) =>
  tx.getConnection().execute(sql, params, 'run', tx.getTransactionContext());

/**
 * Prepares the feed before the bus starts.
 *
 * 1. The first sync process ever records where the window starts being complete (`complete_from`
 *    = the log head then): older cursors were never ingested and cannot be resumed from.
 * 2. Embedded mode only: a new consumer group would start at the beginning of the whole log. Each
 *    instance's group (new on every start unless SYNC_INSTANCE_ID is fixed) is seeded instead at
 *    the window's head for `task-updates` (what is after it is not stored yet: catch up from there)
 *    and at the log head for `reminders` (no replay). An existing group keeps its offset.
 *
 * Offsets of dead instances (`sync-<old id>` rows in `bus.consumer_offsets`) are harmless: the log
 * is never truncated by offsets, nothing waits for them, and `lag()` only reports this process's
 * groups. They are two small rows per past process.
 *
 * The seeding writes `bus.consumer_offsets` directly (the embedded consumer creates its row with
 * `on conflict do nothing`, so a pre-existing row sets its start): a `startAt` option on
 * `Subscription` in @taskgraph/events would be the clean contract for this.
 */
export async function prepareConsumers(em: EntityManager, groups: SyncGroups, embedded: boolean): Promise<void> {
  await em.transactional(async (tx) => {
    await run(
      tx,
      `insert into "sync"."feed_state" ("id", "complete_from")
         select 1, coalesce((select max("seq") from "bus"."outbox"), 0)
         on conflict ("id") do nothing`,
    );
    if (!embedded) return;
    await run(
      tx,
      `insert into "bus"."consumer_offsets" ("consumer_group", "topic", "seq")
         select ?, ?, greatest(fs."complete_from", fs."pruned_through", coalesce((select max("cursor") from "sync"."task_update"), 0))
           from "sync"."feed_state" fs where fs."id" = 1
         on conflict do nothing`,
      [groups.taskUpdates, Topic.TaskUpdates],
    );
    await run(
      tx,
      `insert into "bus"."consumer_offsets" ("consumer_group", "topic", "seq")
         values (?, ?, coalesce((select max("seq") from "bus"."outbox"), 0))
         on conflict do nothing`,
      [groups.reminders, Topic.Reminders],
    );
  });
}
