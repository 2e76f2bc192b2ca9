import type { EntityManager } from '@taskgraph/runtime';

/** Result of a raw statement: rows it returned and rows it touched. */
export interface SqlResult<R> {
  affectedRows: number;
  rows: R[];
}

/**
 * Runs raw SQL (knex `?` placeholders) on `em`'s connection, inside its transaction when it has
 * one: bus bookkeeping (offsets, processed markers, dead letters, jobs) commits with the
 * handler's own writes.
 */
export async function executeSql<R = Record<string, unknown>>(
  em: EntityManager,
  sql: string,
  params: unknown[] = [],
): Promise<SqlResult<R>> {
  const result = (await em.getConnection().execute(sql, params, 'run', em.getTransactionContext())) as {
    affectedRows: number;
    rows: R[];
  };
  return { affectedRows: result.affectedRows, rows: result.rows };
}

/** Thrown inside a transaction callback to roll it back on purpose (RETRY/DROP, already handled). */
export class Rollback<T> extends Error {
  constructor(readonly outcome: T) {
    super('rollback');
    this.name = 'Rollback';
  }
}
