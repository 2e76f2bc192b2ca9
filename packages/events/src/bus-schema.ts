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
  published_at timestamptz
);
create index if not exists outbox_topic_seq on bus.outbox (topic, seq);
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

export async function ensureBusSchema(url: string): Promise<void> {
  await runLocked(url, 'migrate:bus', async (client) => {
    await client.query(BUS_SCHEMA_SQL);
  });
}
