import { Migration } from '@mikro-orm/migrations';

/**
 * Initial `audit` schema: the append-only `audit_entry` table. Names are schema-qualified: the
 * migrator does not set `search_path` to the service schema.
 *
 * Immutability is enforced by the database, not by convention: row triggers refuse UPDATE and
 * DELETE, a statement trigger refuses TRUNCATE. `insert ... on conflict (event_id) do nothing`
 * fires no update trigger, so idempotent re-delivery still works.
 */
export class Migration20261125000000_init extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table "audit"."audit_entry" (
        "id" uuid not null default gen_random_uuid() primary key,
        "seq" bigserial not null,
        "event_id" uuid not null,
        "task_id" uuid not null,
        "user_id" text not null,
        "action" text not null check ("action" in ('CREATED', 'UPDATED', 'COMPLETED', 'REOPENED', 'DELETED')),
        "actor" text not null,
        "occurred_at" timestamptz not null,
        "recorded_at" timestamptz not null default now(),
        "version" int not null,
        "changes" jsonb not null default '[]' check (jsonb_typeof("changes") = 'array'),
        "snapshot" jsonb null,
        constraint "audit_entry_seq_unique" unique ("seq"),
        constraint "audit_entry_event_id_unique" unique ("event_id")
      );`);
    // auditLog: the caller's entries newest first (keyset on occurred_at, seq).
    this.addSql(`create index "audit_entry_user_occurred_idx" on "audit"."audit_entry" ("user_id", "occurred_at" desc, "seq" desc);`);
    // Task.history: one task's entries newest first.
    this.addSql(`create index "audit_entry_task_seq_idx" on "audit"."audit_entry" ("task_id", "seq" desc);`);
    this.addSql(`
      create function "audit"."audit_entry_refuse_change"() returns trigger language plpgsql as $$
      begin
        raise exception 'audit entries are immutable: % on %.% refused', tg_op, tg_table_schema, tg_table_name
          using errcode = 'restrict_violation';
      end;
      $$;`);
    this.addSql(`
      create trigger "audit_entry_no_update_or_delete" before update or delete on "audit"."audit_entry"
        for each row execute function "audit"."audit_entry_refuse_change"();`);
    this.addSql(`
      create trigger "audit_entry_no_truncate" before truncate on "audit"."audit_entry"
        for each statement execute function "audit"."audit_entry_refuse_change"();`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "audit"."audit_entry";`);
    this.addSql(`drop function if exists "audit"."audit_entry_refuse_change"();`);
  }
}
