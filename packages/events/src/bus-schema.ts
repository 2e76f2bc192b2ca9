import { runLocked } from '@taskgraph/runtime';

/**
 * Schema `bus`: the outbox log, consumer offsets, dead letters, processed-event markers and jobs.
 * Idempotent; every service that produces or consumes runs it at start, under an advisory lock.
 */
export const BUS_SCHEMA_SQL = `
create schema if not exists bus;
create table if not exists bus.outbox (
  seq bigserial primary key,
  id uuid not null unique,
  topic text not null,
  key text not null,
  type text not null,
  data jsonb not null,
  occurred_at timestamptz not null,
  source text not null default 'taskgraph',
  published_at timestamptz,
  traceparent text
);
alter table bus.outbox add column if not exists traceparent text;
create index if not exists outbox_topic_seq on bus.outbox (topic, seq);
-- Lock-free appends (docs/ARCHITECTURE.md §3 "Log order"): a row's seq is drawn only after its
-- transaction has an xid, so a reader's snapshot lists every transaction that may still commit a
-- lower seq (see log-horizon.ts). The default applies to every insert, not only appendToOutbox.
create or replace function bus.next_seq() returns bigint language plpgsql volatile as $fn$
begin
  perform pg_current_xact_id();
  return nextval('bus.outbox_seq_seq');
end
$fn$;
alter table bus.outbox alter column seq set default bus.next_seq();
create index if not exists outbox_unpublished on bus.outbox (seq) where published_at is null;
create table if not exists bus.consumer_offsets (
  consumer_group text not null,
  topic text not null,
  seq bigint not null default 0,
  updated_at timestamptz not null default now(),
  primary key (consumer_group, topic)
);
create table if not exists bus.dead_letters (
  id bigserial primary key,
  consumer_group text not null,
  topic text not null,
  event_id text,
  seq bigint,
  reason text not null,
  event jsonb,
  created_at timestamptz not null default now()
);
create table if not exists bus.processed_events (
  consumer_group text not null,
  event_id text not null,
  processed_at timestamptz not null default now(),
  primary key (consumer_group, event_id)
);
-- Retention (bus-retention.ts) deletes by age.
create index if not exists processed_events_at on bus.processed_events (processed_at);
create index if not exists dead_letters_created on bus.dead_letters (created_at);
create table if not exists bus.jobs (
  app_id text not null,
  name text not null,
  due_at timestamptz not null,
  data jsonb not null,
  attempts int not null default 0,
  max_retries int not null default 3,
  retry_interval_ms int not null default 5000,
  created_at timestamptz not null default now(),
  primary key (app_id, name)
);
create index if not exists jobs_due on bus.jobs (due_at);
`;

/** Every relation BUS_SCHEMA_SQL creates (tables and indexes), schema-qualified. */
const BUS_RELATIONS = [...BUS_SCHEMA_SQL.matchAll(/create (?:table|index) if not exists (\S+)/g)].map((m) =>
  m[1]!.includes('.') ? m[1]! : `bus.${m[1]}`,
);

/**
 * Creates schema `bus` unless it is complete already. The check matters: `create index if not
 * exists` takes a SHARE lock on its table even when the index exists, so running the DDL on every
 * service start stalls every outbox writer behind it and can deadlock with a writer and a
 * consumer transaction (found by the kill -9 soak: mutations failing while a consumer restarted).
 */
export async function ensureBusSchema(url: string): Promise<void> {
  await runLocked(url, 'migrate:bus', async (client) => {
    // Relations, columns added after a table first shipped (outbox.traceparent), and the seq default
    // of lock-free appends (a schema from before them is migrated).
    const { rows } = await client.query<{ missing: string }>(
      `select (select count(*) from unnest($1::text[]) as r(name) where to_regclass(r.name) is null)
            + (select count(*) from (values ('outbox', 'traceparent')) as c(tbl, col)
               where not exists (select 1 from information_schema.columns
                                 where table_schema = 'bus' and table_name = c.tbl and column_name = c.col))
            + (select count(*) from (select 1) as one
                where coalesce(pg_get_expr((select adbin from pg_attrdef d join pg_attribute a on a.attrelid = d.adrelid and a.attnum = d.adnum
                                             where d.adrelid = to_regclass('bus.outbox') and a.attname = 'seq'), to_regclass('bus.outbox')), '')
                      <> 'bus.next_seq()') as missing`,
      [BUS_RELATIONS],
    );
    if (Number(rows[0]?.missing ?? 1) === 0) return;
    await client.query(BUS_SCHEMA_SQL);
  });
}
