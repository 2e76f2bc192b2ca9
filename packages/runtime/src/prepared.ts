import type { EntityManager } from './database.js';

/** The subset of a pooled `pg.Client` this module uses. */
interface PgConnection {
  query(config: { name?: string; text: string; values: readonly unknown[] }): Promise<{ rows: unknown[] }>;
}
/** The subset of knex's client (MikroORM's pool) this module uses. */
interface KnexClient {
  acquireConnection(): Promise<PgConnection>;
  releaseConnection(connection: PgConnection): Promise<void>;
}

/** SQL text → statement name; the texts are a small fixed set (one per query shape), so this stays small. */
const names = new Map<string, string>();
const MAX_NAMES = 1_000;

/**
 * Runs a read as a named prepared statement (`$1…` placeholders) on a connection of the ORM's pool,
 * outside any transaction, and returns the raw rows — no entity hydration, no knex query building.
 * Postgres parses and plans each statement once per connection; later calls only bind and execute.
 *
 * For read paths only: writes stay on MikroORM (unit of work, optimistic versions). Rows come back
 * with the ORM's type parsers (timestamps as Postgres text, `jsonb` parsed, `bigint` as text), and
 * the statement is reported to the database's `onQuery` hook like any ORM statement (metrics, N+1 tests).
 */
export async function readRows<R>(em: EntityManager, text: string, values: readonly unknown[]): Promise<R[]> {
  let name = names.get(text);
  if (!name) {
    // Past the bound, fall back to unnamed statements rather than growing every connection's cache.
    name = names.size < MAX_NAMES ? `r${names.size + 1}` : '';
    if (name) names.set(text, name);
  }
  const knex = em.getConnection().getKnex();
  const client = knex.client as unknown as KnexClient;
  const connection = await client.acquireConnection();
  try {
    knex.emit('query', { sql: text, bindings: values, method: 'raw' });
    const result = await connection.query(name ? { name, text, values } : { text, values });
    return result.rows as R[];
  } finally {
    await client.releaseConnection(connection);
  }
}

/** A timestamp column as the ORM's pool returns it (Postgres text) or a Date, as a Date; null stays null. */
export function dateOrNull(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  return value instanceof Date ? value : new Date(String(value));
}
