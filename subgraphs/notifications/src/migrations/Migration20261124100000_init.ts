import { Migration } from '@mikro-orm/migrations';

/** Initial `notifications` schema. Names are schema-qualified: the migrator does not set `search_path`. */
export class Migration20261124100000_init extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table "notifications"."tracked_task" (
        "task_id" uuid not null primary key,
        "user_id" text not null,
        "version" int not null,
        "title" text not null,
        "due_at" timestamptz null,
        "status" text not null check ("status" in ('OPEN', 'DONE')),
        "deleted" boolean not null default false,
        "updated_at" timestamptz not null
      );`);
    this.addSql(`
      create table "notifications"."reminder" (
        "id" text not null primary key,
        "task_id" uuid not null,
        "user_id" text not null,
        "n" smallint not null check ("n" >= 0),
        "rule" jsonb not null,
        "fire_at" timestamptz null,
        "status" text not null check ("status" in ('SCHEDULED', 'FIRED', 'CANCELLED', 'MISSED')),
        "generation" int not null,
        "fired_at" timestamptz null,
        "updated_at" timestamptz not null,
        constraint "reminder_task_n_unique" unique ("task_id", "n")
      );`);
    // Task.reminders loads by (user, task ids) in one query per batch.
    this.addSql(`create index "reminder_user_task_idx" on "notifications"."reminder" ("user_id", "task_id", "n");`);
    this.addSql(`
      create table "notifications"."notification" (
        "id" uuid not null primary key,
        "user_id" text not null,
        "task_id" uuid not null,
        "kind" text not null check ("kind" in ('REMINDER')),
        "title" text not null,
        "body" text not null,
        "job_name" text not null,
        "generation" int not null,
        "fire_at" timestamptz not null,
        "created_at" timestamptz not null,
        "read_at" timestamptz null,
        constraint "notification_job_generation_unique" unique ("job_name", "generation")
      );`);
    // Keyset pagination newest first, and the unread count / unreadOnly filter.
    this.addSql(
      `create index "notification_user_created_idx" on "notifications"."notification" ("user_id", "created_at" desc, "id" desc);`,
    );
    this.addSql(
      `create index "notification_user_unread_idx" on "notifications"."notification" ("user_id", "created_at" desc, "id" desc) where "read_at" is null;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "notifications"."notification";`);
    this.addSql(`drop table if exists "notifications"."reminder";`);
    this.addSql(`drop table if exists "notifications"."tracked_task";`);
  }
}
