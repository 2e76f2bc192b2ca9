import pg from 'pg';

const COMPLETED = 'taskgraph.task.completed.v1';
const DELETED = 'taskgraph.task.deleted.v1';

/** What the system holds after a run, checked against its own log (`bus.outbox` is the truth). */
export interface Ledger {
  /** Events in the log, per topic. */
  events: Record<string, number>;
  tasks: number;
  /** task-events without their audit entry / with more than one / audit entries without an event. */
  audit: { lost: number; duplicated: number; phantom: number };
  /** Completed recurring tasks without their next occurrence / with more than one. */
  recurrence: { completed: number; lost: number; duplicated: number };
  /** Fired reminders, each with exactly one notification; overdue reminders never fired (lost). */
  notifications: {
    fired: number;
    notifications: number;
    lost: number;
    duplicated: number;
    missed: number;
    overdue: number;
    /** Longest delay between a reminder's fire time and its firing. */
    maxDelayMs: number;
  };
  /** task-updates events without their sync row / with more than one (undefined when sync is not running). */
  sync?: { stored: number; lost: number; duplicated: number };
  /** Half-applied mutations: a task row whose version is not its last event's, or events of a task that has no row. */
  halfApplied: number;
  /** Events behind per consumer group (embedded offsets). */
  lag: Record<string, number>;
}

export const lostOf = (l: Ledger): number => l.audit.lost + l.recurrence.lost + l.notifications.lost + (l.sync?.lost ?? 0) + l.halfApplied;
export const duplicatedOf = (l: Ledger): number =>
  l.audit.duplicated + l.audit.phantom + l.recurrence.duplicated + l.notifications.duplicated + (l.sync?.duplicated ?? 0);

async function one<T = number>(client: pg.Client, sql: string, params: unknown[] = []): Promise<T> {
  const { rows } = await client.query(sql, params);
  const value = Object.values(rows[0] ?? {})[0];
  return (typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value) as T;
}

/** Reads the ledger straight from Postgres (every service's schema; tests may, services may not). */
export async function readLedger(databaseUrl: string, options: { sync?: boolean; overdueAfterMs?: number } = {}): Promise<Ledger> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows: topicRows } = await client.query<{ topic: string; n: string }>(
      'select topic, count(*) as n from bus.outbox group by topic',
    );
    const events = Object.fromEntries(topicRows.map((r) => [r.topic, Number(r.n)]));
    const tasks = await one(client, 'select count(*) from tasks.task');
    const audit = {
      lost: await one(
        client,
        `select count(*) from bus.outbox o where o.topic = 'task-events'
           and not exists (select 1 from audit.audit_entry a where a.event_id = o.id)`,
      ),
      duplicated: await one(
        client,
        'select count(*) from (select event_id from audit.audit_entry group by event_id having count(*) > 1) d',
      ),
      phantom: await one(
        client,
        `select count(*) from audit.audit_entry a where not exists (select 1 from bus.outbox o where o.id = a.event_id and o.topic = 'task-events')`,
      ),
    };
    const completedRecurring = `select distinct o.key from bus.outbox o where o.topic = 'task-events' and o.type = '${COMPLETED}'
        and o.data->'task'->>'recurrence' is not null and o.data->'task'->>'dueAt' is not null`;
    const recurrence = {
      completed: await one(client, `select count(*) from (${completedRecurring}) c`),
      // A completed occurrence whose task still exists must have its successor (the workloads never
      // delete or un-schedule a recurring task, so every one of them must).
      lost: await one(
        client,
        `select count(*) from (${completedRecurring}) c
           where exists (select 1 from tasks.task t where t.id::text = c.key)
             and not exists (select 1 from tasks.task s where s.previous_occurrence_id::text = c.key)`,
      ),
      duplicated: await one(
        client,
        'select count(*) from (select previous_occurrence_id from tasks.task where previous_occurrence_id is not null group by 1 having count(*) > 1) d',
      ),
    };
    const overdueMs = options.overdueAfterMs ?? 5_000;
    const notifications = {
      fired: await one(client, `select count(*) from notifications.reminder where status = 'FIRED'`),
      notifications: await one(client, 'select count(*) from notifications.notification'),
      lost: await one(
        client,
        `select count(*) from notifications.reminder r where r.status = 'FIRED'
           and not exists (select 1 from notifications.notification n where n.job_name = r.id and n.generation = r.generation)`,
      ),
      duplicated:
        (await one<number>(
          client,
          'select count(*) from (select job_name, generation from notifications.notification group by 1, 2 having count(*) > 1) d',
        )) +
        (await one<number>(
          client,
          `select count(*) from notifications.notification n
             where not exists (select 1 from notifications.reminder r where r.id = n.job_name and r.status = 'FIRED')`,
        )),
      missed: await one(client, `select count(*) from notifications.reminder where status = 'MISSED'`),
      overdue: await one(
        client,
        `select count(*) from notifications.reminder where status = 'SCHEDULED' and fire_at < now() - make_interval(secs => $1::float / 1000)`,
        [overdueMs],
      ),
      maxDelayMs: 0,
    };
    notifications.lost += notifications.overdue;
    notifications.maxDelayMs = Math.round(
      Number(
        (await one<string | number | null>(
          client,
          `select coalesce(max(extract(epoch from fired_at - fire_at)) * 1000, 0) from notifications.reminder where status = 'FIRED'`,
        )) ?? 0,
      ),
    );
    let sync: Ledger['sync'];
    if (options.sync) {
      sync = {
        stored: await one(client, 'select count(*) from sync.task_update'),
        lost: await one(
          client,
          `select count(*) from bus.outbox o where o.topic = 'task-updates'
             and o.seq > (select complete_from from sync.feed_state where id = 1)
             and not exists (select 1 from sync.task_update u where u.cursor = o.seq)`,
        ),
        duplicated: await one(client, 'select count(*) from (select event_id from sync.task_update group by 1 having count(*) > 1) d'),
      };
    }
    const halfApplied =
      (await one<number>(
        client,
        `select count(*) from tasks.task t where t.version <> coalesce(
           (select max((o.data->>'version')::int) from bus.outbox o where o.topic = 'task-events' and o.key = t.id::text), 0)`,
      )) +
      (await one<number>(
        client,
        `select count(distinct o.key) from bus.outbox o where o.topic = 'task-events'
           and not exists (select 1 from tasks.task t where t.id::text = o.key)
           and not exists (select 1 from bus.outbox d where d.topic = 'task-events' and d.key = o.key and d.type = '${DELETED}')`,
      )) +
      // Every task change appends one event to each of task-events and task-updates.
      Math.abs((events['task-events'] ?? 0) - (events['task-updates'] ?? 0));
    const { rows: lagRows } = await client.query<{ consumer_group: string; lag: string }>(
      `select c.consumer_group, (select count(*) from bus.outbox o where o.topic = c.topic and o.seq > c.seq) as lag
         from bus.consumer_offsets c where c.consumer_group in ('audit', 'notifications', 'tasks-recurrence')`,
    );
    const lag = Object.fromEntries(lagRows.map((r) => [r.consumer_group, Number(r.lag)]));
    return { events, tasks, audit, recurrence, notifications, sync, halfApplied, lag };
  } finally {
    await client.end();
  }
}

/** True when every consumer has caught up and nothing is left to fire (the ledger can be judged). */
export function settled(l: Ledger): boolean {
  return (
    Object.values(l.lag).every((n) => n === 0) &&
    l.audit.lost === 0 &&
    l.recurrence.lost === 0 &&
    l.notifications.overdue === 0 &&
    (l.sync?.lost ?? 0) === 0
  );
}

/** Polls the ledger until it settles (or `timeoutMs`), returning the last reading either way. */
export async function settle(databaseUrl: string, options: { sync?: boolean; timeoutMs?: number } = {}): Promise<Ledger> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    const ledger = await readLedger(databaseUrl, options);
    if (settled(ledger) || Date.now() > deadline) return ledger;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Row counts of every domain table (for "no write" checks). */
export async function domainRowCounts(databaseUrl: string, tables: readonly string[]): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const counts: Record<string, number> = {};
    for (const table of tables) {
      const { rows } = await client.query<{ n: string }>(`select count(*) as n from ${table}`);
      counts[table] = Number(rows[0]!.n);
    }
    return counts;
  } finally {
    await client.end();
  }
}

/**
 * Acknowledged writes that are not in the database: a task whose acknowledged version is newer
 * than its row (or that has no row and was never deleted), or an acknowledged delete whose row is
 * still there.
 */
export async function lostAcknowledged(databaseUrl: string, acknowledged: ReadonlyMap<string, number>): Promise<number> {
  if (acknowledged.size === 0) return 0;
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const ids = [...acknowledged.keys()];
    const { rows } = await client.query<{ id: string; version: number | null; deleted: boolean }>(
      `select k.id, t.version,
              exists (select 1 from bus.outbox d where d.topic = 'task-events' and d.key = k.id and d.type = '${DELETED}') as deleted
         from unnest($1::text[]) as k(id) left join tasks.task t on t.id::text = k.id`,
      [ids],
    );
    let lost = 0;
    for (const row of rows) {
      const acked = acknowledged.get(row.id)!;
      if (acked < 0) {
        if (row.version !== null || !row.deleted) lost++;
      } else if (row.version === null ? !row.deleted : row.version < acked) {
        lost++;
      }
    }
    return lost;
  } finally {
    await client.end();
  }
}
