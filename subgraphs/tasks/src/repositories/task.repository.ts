import { LockMode } from '@mikro-orm/core';
import { badInput, checkPageSize, dateOrNull, type EntityManager, readRows } from '@taskgraph/runtime';
import { PRIORITY_RANK, type Priority, type Task, TaskSchema, type TaskStatus } from '../entities/task.entity.js';
import { decodeCursor, encodeCursor, TASK_ORDERS, type TaskOrder } from './task-cursor.js';

/** GraphQL `TaskFilter`. */
export interface TaskFilter {
  status?: TaskStatus | null;
  tags?: string[] | null;
  priority?: Priority[] | null;
  /** Due strictly before. */
  dueBefore?: Date | null;
  /** Due at or after. */
  dueAfter?: Date | null;
  /** Case-insensitive substring of title or notes. */
  search?: string | null;
}

export interface TaskPage {
  edges: { cursor: string; node: Task }[];
  hasNextPage: boolean;
}

/** Reads and locks tasks, always scoped to the owner: another user's task is simply not there. */
export class TaskRepository {
  constructor(private readonly em: EntityManager) {}

  findOwned(userId: string, id: string, lock = false): Promise<Task | null> {
    return this.em.findOne(TaskSchema, { id, userId }, lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {});
  }

  /** One SQL query for a batch of ids (DataLoader): plain rows, read-only (writes lock with `findOwned`). */
  async findManyOwned(userId: string, ids: readonly string[]): Promise<Task[]> {
    const rows = await readRows<Record<string, unknown>>(
      this.em,
      'select t.* from tasks.task t where t.user_id = $1 and t.id = any($2::uuid[])',
      [userId, ids],
    );
    return rows.map(taskFromRow);
  }

  async list(userId: string, filter: TaskFilter, orderBy: TaskOrder, first: number, after: string | null | undefined): Promise<TaskPage> {
    checkPageSize(first);
    const order = TASK_ORDERS[orderBy];
    const params: unknown[] = [userId];
    // `$n` of the value just pushed: the SQL text depends only on which filters are set, so each
    // shape is one prepared statement.
    const next = (value: unknown) => `$${params.push(value)}`;
    const where: string[] = ['t.user_id = $1'];
    if (filter.status) {
      where.push(`t.status = ${next(filter.status)}`);
    }
    if (filter.tags && filter.tags.length > 0) {
      where.push(`t.tags @> ${next(filter.tags)}::text[]`);
    }
    if (filter.priority && filter.priority.length > 0) {
      where.push(`t.priority_rank = any(${next(filter.priority.map((p) => PRIORITY_RANK[p]))}::smallint[])`);
    }
    if (filter.dueBefore) {
      where.push(`t.due_at < ${next(filter.dueBefore)}`);
    }
    if (filter.dueAfter) {
      where.push(`t.due_at >= ${next(filter.dueAfter)}`);
    }
    if (filter.search) {
      if (filter.search.length > 200) throw badInput('search must be at most 200 characters', 'search');
      const pattern = `%${filter.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      const p = next(pattern);
      where.push(`(t.title ilike ${p} or t.notes ilike ${p})`);
    }
    if (after) {
      const cursor = decodeCursor(orderBy, after);
      where.push(`(${order.expr}, t.id) ${order.dir === 'asc' ? '>' : '<'} (${next(cursor.key)}::${order.type}, ${next(cursor.id)}::uuid)`);
    }
    const sql = `select t.*, ${order.expr} as sort_key from tasks.task t where ${where.join(' and ')}
      order by ${order.expr} ${order.dir}, t.id ${order.dir} limit ${next(first + 1)}`;
    const rows = await readRows<Record<string, unknown>>(this.em, sql, params);
    const page = rows.slice(0, first);
    return {
      hasNextPage: rows.length > first,
      edges: page.map((row) => {
        const key = sortKeyOf(row.sort_key);
        const node = taskFromRow(row);
        return { cursor: encodeCursor(orderBy, key, node.id), node };
      }),
    };
  }
}

/** Cursor key of a row: timestamps as ISO strings, ±infinity (no due date) as Postgres literals. */
function sortKeyOf(value: unknown): string | number {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'number' && !Number.isFinite(value)) return value > 0 ? 'infinity' : '-infinity';
  return value as string | number;
}

/**
 * A task row as the read paths return it: plain fields, no ORM identity map or change tracking
 * (hydrating pages through MikroORM was the biggest share of this subgraph's CPU). Writes load
 * their task through the ORM (`findOwned`), never from here.
 */
export function taskFromRow(row: Record<string, unknown>): Task {
  return {
    id: row.id as string,
    userId: row.user_id as string,
    title: row.title as string,
    notes: (row.notes as string | null) ?? null,
    status: row.status as TaskStatus,
    priorityRank: Number(row.priority_rank),
    tags: (row.tags as string[] | null) ?? [],
    dueAt: dateOrNull(row.due_at),
    timeZone: (row.time_zone as string | null) ?? null,
    recurrence: (row.recurrence as string | null) ?? null,
    seriesStart: dateOrNull(row.series_start),
    seriesId: (row.series_id as string | null) ?? null,
    previousOccurrenceId: (row.previous_occurrence_id as string | null) ?? null,
    reminders: (typeof row.reminders === 'string' ? JSON.parse(row.reminders) : (row.reminders ?? [])) as Task['reminders'],
    completedAt: dateOrNull(row.completed_at),
    createdAt: dateOrNull(row.created_at) as Date,
    updatedAt: dateOrNull(row.updated_at) as Date,
    version: Number(row.version),
  };
}
