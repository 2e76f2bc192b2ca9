import { Migration } from '@mikro-orm/migrations';

/** Initial `tasks` schema (names schema-qualified: the migrator does not set search_path). Indexes serve the list filters and keyset orders of `tasks(...)`. */
export class Migration20261124000000_init extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table "tasks"."task" (
        "id" uuid not null primary key,
        "user_id" text not null,
        "title" text not null,
        "notes" text null,
        "status" text not null check ("status" in ('OPEN', 'DONE')),
        "priority_rank" smallint not null check ("priority_rank" between 0 and 3),
        "tags" text[] not null default '{}',
        "due_at" timestamptz null,
        "time_zone" text null,
        "recurrence" text null,
        "series_start" timestamptz null,
        "series_id" uuid null,
        "previous_occurrence_id" uuid null,
        "reminders" jsonb not null default '[]',
        "completed_at" timestamptz null,
        "created_at" timestamptz not null,
        "updated_at" timestamptz not null,
        "version" int not null,
        constraint "task_previous_occurrence_id_unique" unique ("previous_occurrence_id")
      );`);
    this.addSql(`create index "task_user_created_idx" on "tasks"."task" ("user_id", "created_at" desc, "id" desc);`);
    this.addSql(`create index "task_user_due_idx" on "tasks"."task" ("user_id", "due_at", "id");`);
    this.addSql(`create index "task_user_priority_idx" on "tasks"."task" ("user_id", "priority_rank" desc, "id" desc);`);
    this.addSql(`create index "task_tags_idx" on "tasks"."task" using gin ("tags");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "tasks"."task";`);
  }
}
