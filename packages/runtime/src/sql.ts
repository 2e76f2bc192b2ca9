import type { EntityManager } from './database.js';

/** Result of a raw statement: rows it returned and rows it touched. */
export interface SqlResult<R> {
  affectedRows: number;
  rows: R[];
}

/**
 * Runs raw SQL (knex `?` placeholders) on `em`'s connection, inside its transaction when it has one,
 * so the statement commits or rolls back with the ORM's writes (outbox, offsets, markers).
 */
export async function executeSql<R = Record<string, unknown>>(
  em: EntityManager,
  sql: string,
  params: unknown[] = [],
): Promise<SqlResult<R>> {
  const result = (await em.getConnection().execute(sql, params, 'run', em.getTransactionContext())) as { affectedRows: number; rows: R[] };
  return { affectedRows: result.affectedRows, rows: result.rows };
}

/** `executeSql` for a query: just the rows. */
export async function queryRows<R = Record<string, unknown>>(em: EntityManager, sql: string, params: unknown[] = []): Promise<R[]> {
  return em.getConnection().execute<R[]>(sql, params, 'all', em.getTransactionContext());
}
