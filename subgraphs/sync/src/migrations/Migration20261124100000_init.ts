import { Migration } from '@mikro-orm/migrations';

/**
 * Initial `sync` schema: the retained window of task updates, per-user prune watermarks and the
 * one-row feed state (where the window starts being complete, the highest pruned cursor).
 */
export class Migration20261124100000_init extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table "sync"."task_update" (
        "cursor" bigint not null primary key,
        "event_id" uuid not null,
        "user_id" text not null,
        "task_id" uuid not null,
        "op" text not null check ("op" in ('CREATED', 'UPDATED', 'COMPLETED', 'REOPENED', 'DELETED')),
        "version" int not null,
        "changed_fields" text[] not null default '{}',
        "tags" text[] not null default '{}',
        "occurred_at" timestamptz not null
      );`);
    // Backfill: the caller's rows after a cursor, in cursor order.
    this.addSql(`create index "task_update_user_cursor_idx" on "sync"."task_update" ("user_id", "cursor");`);
    // Time-based pruning.
    this.addSql(`create index "task_update_occurred_at_idx" on "sync"."task_update" ("occurred_at");`);
    this.addSql(`
      create table "sync"."user_watermark" (
        "user_id" text not null primary key,
        "pruned_through" bigint not null
      );`);
    this.addSql(`
      create table "sync"."feed_state" (
        "id" smallint not null primary key check ("id" = 1),
        "complete_from" bigint not null,
        "pruned_through" bigint not null default 0
      );`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "sync"."feed_state";`);
    this.addSql(`drop table if exists "sync"."user_watermark";`);
    this.addSql(`drop table if exists "sync"."task_update";`);
  }
}
