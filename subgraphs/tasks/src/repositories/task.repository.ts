import { LockMode } from '@mikro-orm/core';
import { badInput, type EntityManager } from '@taskgraph/runtime';
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

export const MAX_PAGE = 100;

/** Reads and locks tasks, always scoped to the owner: another user's task is simply not there. */
export class TaskRepository {
  constructor(private readonly em: EntityManager) {}

  findOwned(userId: string, id: string, lock = false): Promise<Task | null> {
    return this.em.findOne(TaskSchema, { id, userId }, lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {});
  }

  /** One SQL query for a batch of ids (DataLoader). */
  findManyOwned(userId: string, ids: readonly string[]): Promise<Task[]> {
    return this.em.find(TaskSchema, { id: { $in: [...ids] }, userId });
  }

  async list(userId: string, filter: TaskFilter, orderBy: TaskOrder, first: number, after: string | null | undefined): Promise<TaskPage> {
    if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) throw badInput(`first must be between 1 and ${MAX_PAGE}`, 'first');
    const order = TASK_ORDERS[orderBy];
    const where: string[] = ['t.user_id = ?'];
    const params: unknown[] = [userId];
    if (filter.status) {
      where.push('t.status = ?');
      params.push(filter.status);
    }
    if (filter.tags && filter.tags.length > 0) {
      where.push('t.tags @> ?::text[]');
      params.push(pgArray(filter.tags));
    }
    if (filter.priority && filter.priority.length > 0) {
      where.push('t.priority_rank = any(?::smallint[])');
      params.push(pgArray(filter.priority.map((p) => String(PRIORITY_RANK[p]))));
    }
    if (filter.dueBefore) {
      where.push('t.due_at < ?');
      params.push(filter.dueBefore);
    }
    if (filter.dueAfter) {
      where.push('t.due_at >= ?');
      params.push(filter.dueAfter);
    }
    if (filter.search) {
      if (filter.search.length > 200) throw badInput('search must be at most 200 characters', 'search');
      const pattern = `%${filter.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      where.push('(t.title ilike ? or t.notes ilike ?)');
      params.push(pattern, pattern);
    }
    if (after) {
      const cursor = decodeCursor(orderBy, after);
      where.push(`(${order.expr}, t.id) ${order.dir === 'asc' ? '>' : '<'} (?::${order.type}, ?::uuid)`);
      params.push(cursor.key, cursor.id);
    }
    params.push(first + 1);
    const sql = `select t.*, ${order.expr} as sort_key from tasks.task t where ${where.join(' and ')}
      order by ${order.expr} ${order.dir}, t.id ${order.dir} limit ?`;
    const rows = await this.em.getConnection().execute<Record<string, unknown>[]>(sql, params);
    const page = rows.slice(0, first);
    return {
      hasNextPage: rows.length > first,
      edges: page.map((row) => {
        const key = sortKeyOf(row.sort_key);
        const { sort_key: _k, ...columns } = row;
        const node = this.em.map(TaskSchema, columns);
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

/** A Postgres array literal: knex would expand a JS array binding into a value list. */
function pgArray(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/["\\]/g, (c) => `\\${c}`)}"`).join(',')}}`;
}
