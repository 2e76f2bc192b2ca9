import { badInput, checkPageSize, type EntityManager, isUuid, readRows } from '@taskgraph/runtime';
import type { AuditAction, AuditEntry, FieldChange } from '../entities/audit-entry.entity.js';
import { decodeLogCursor, encodeHistoryCursor, encodeLogCursor } from './audit-cursor.js';

/** GraphQL `AuditFilter`. */
export interface AuditFilter {
  taskId?: string | null;
  actions?: AuditAction[] | null;
  /** Occurred at or after. */
  from?: Date | null;
  /** Occurred strictly before. */
  to?: Date | null;
}

export interface AuditPage {
  edges: { cursor: string; node: AuditEntry }[];
  hasNextPage: boolean;
}

/** One `history(first, after)` request for one task; `afterSeq` is the decoded cursor. */
export interface HistoryRequest {
  taskId: string;
  first: number;
  afterSeq: string | null;
  /**
   * The version the page must include (causal freshness): part of the request's identity, so a page
   * read before that version was recorded is never reused for it (the gateway batches several
   * events of one task into one entity fetch, and the later events wait longer).
   */
  minVersion?: number | undefined;
}

// occurred_at with microseconds in UTC: the exact keyset value for the log cursor.
const OCCURRED_KEY = `to_char(e.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** Reads audit entries, always scoped to the owner: another user's entries are simply not there. */
export class AuditEntryRepository {
  constructor(private readonly em: EntityManager) {}

  /** The caller's entries, newest first: `occurred_at desc, seq desc` (keyset pagination). */
  async list(userId: string, filter: AuditFilter, first: number, after: string | null | undefined): Promise<AuditPage> {
    checkPageSize(first);
    if (filter.from && filter.to && filter.from.getTime() > filter.to.getTime()) throw badInput('from must not be after to', 'filter.from');
    const cursor = after ? decodeLogCursor(after) : null;
    if (filter.taskId != null && !isUuid(filter.taskId)) return { edges: [], hasNextPage: false };
    const where: string[] = ['e.user_id = ?'];
    const params: unknown[] = [userId];
    if (filter.taskId) {
      where.push('e.task_id = ?');
      params.push(filter.taskId);
    }
    if (filter.actions && filter.actions.length > 0) {
      // One placeholder per value: knex expands an array parameter into a list, never a Postgres array.
      where.push(`e.action in (${filter.actions.map(() => '?').join(', ')})`);
      params.push(...filter.actions);
    }
    if (filter.from) {
      where.push('e.occurred_at >= ?');
      params.push(filter.from);
    }
    if (filter.to) {
      where.push('e.occurred_at < ?');
      params.push(filter.to);
    }
    if (cursor) {
      where.push('(e.occurred_at, e.seq) < (?::timestamptz, ?::bigint)');
      params.push(cursor.occurredAt, cursor.seq);
    }
    params.push(first + 1);
    const rows = await this.em.getConnection().execute<Record<string, unknown>[]>(
      `select e.*, ${OCCURRED_KEY} as occurred_key from audit.audit_entry e
        where ${where.join(' and ')} order by e.occurred_at desc, e.seq desc limit ?`,
      params,
    );
    return {
      hasNextPage: rows.length > first,
      edges: rows.slice(0, first).map(({ occurred_key, ...columns }) => {
        const node = entryFromRow(columns);
        return { cursor: encodeLogCursor({ occurredAt: String(occurred_key), seq: node.seq }), node };
      }),
    };
  }

  /**
   * Pages of several tasks' histories in ONE query (DataLoader batch): the requests travel as one
   * jsonb parameter unpacked by `jsonb_to_recordset` (knex would expand array parameters), entries are numbered per request newest first (`row_number() over (partition by
   * request order by seq desc)`) and cut at `first + 1`, which tells whether a next page exists.
   * Scoped to `userId`: a foreign task's history is empty.
   */
  async historyPages(userId: string, requests: readonly HistoryRequest[]): Promise<AuditPage[]> {
    if (requests.length === 0) return [];
    // A prepared statement: Postgres plans it once per connection (readRows).
    const rows = await readRows<Record<string, unknown>>(
      this.em,
      `select ranked.* from (
         select r.idx, r.lim, e.*, row_number() over (partition by r.idx order by e.seq desc) as rn
           from jsonb_to_recordset($1::jsonb) as r(idx int, task_id uuid, after_seq bigint, lim int)
           join audit.audit_entry e on e.task_id = r.task_id and e.user_id = $2 and (r.after_seq is null or e.seq < r.after_seq)
       ) ranked
       where ranked.rn <= ranked.lim + 1
       order by ranked.idx, ranked.rn`,
      [JSON.stringify(requests.map((r, i) => ({ idx: i, task_id: r.taskId, after_seq: r.afterSeq, lim: r.first }))), userId],
    );
    const pages: AuditPage[] = requests.map(() => ({ edges: [], hasNextPage: false }));
    for (const { idx, lim, rn, ...columns } of rows) {
      const page = pages[Number(idx)];
      if (!page) continue;
      if (Number(rn) > Number(lim)) {
        page.hasNextPage = true;
        continue;
      }
      const node = entryFromRow(columns);
      page.edges.push({ cursor: encodeHistoryCursor(node.seq), node });
    }
    return pages;
  }
}

/** `timestamptz` as the driver returns it (MikroORM keeps it a string, e.g. `2026-11-24 03:12:30.27+00`). */
const toDate = (value: unknown): Date => (value instanceof Date ? value : new Date(String(value)));

/**
 * A raw `audit.audit_entry` row as a plain `AuditEntry`. Entries are read-only, so they skip
 * `em.map` (identity map, change-tracking copies of the JSON columns): on a page of history that
 * was most of the subgraph's CPU (BENCHMARKS.md, gateway queries).
 */
export function entryFromRow(row: Record<string, unknown>): AuditEntry {
  return {
    id: String(row.id),
    seq: String(row.seq),
    eventId: String(row.event_id),
    taskId: String(row.task_id),
    userId: String(row.user_id),
    action: row.action as AuditAction,
    actor: String(row.actor),
    occurredAt: toDate(row.occurred_at),
    recordedAt: toDate(row.recorded_at),
    version: Number(row.version),
    changes: (typeof row.changes === 'string' ? JSON.parse(row.changes) : row.changes) as FieldChange[],
    snapshot: (typeof row.snapshot === 'string' ? JSON.parse(row.snapshot) : (row.snapshot ?? null)) as Record<string, unknown> | null,
  };
}
