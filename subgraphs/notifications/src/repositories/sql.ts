import type { EntityManager } from '@taskgraph/runtime';

/** Runs raw SQL (knex `?` placeholders) on `em`, inside its transaction when it has one; returns the rows. */
export async function queryRows<R>(em: EntityManager, sql: string, params: unknown[] = []): Promise<R[]> {
  return em.getConnection().execute<R[]>(sql, params, 'all', em.getTransactionContext());
}
