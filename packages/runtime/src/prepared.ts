import type { EntityManager } from './database.js';

/** The subset of a pooled `pg.Client` this module uses. */
interface PgConnection {
  query(config: { name?: string; text: string; values: readonly unknown[] }): Promise<{ rows: unknown[]; rowCount: number | null }>;
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
  const knex = em.getConnection().getKnex();
  return (await onConnection<R>(knex, knex.client as unknown as KnexClient, text, values, statementName(text))).rows;
}

/** `text` with `values` on a connection of `client` (acquired and released around it), reported to `onQuery` like any ORM statement. */
async function onConnection<R>(
  knex: ReturnType<ReturnType<EntityManager['getConnection']>['getKnex']>,
  client: KnexClient,
  text: string,
  values: readonly unknown[],
  name: string,
): Promise<{ rows: R[]; affectedRows: number }> {
  const connection = await client.acquireConnection();
  try {
    knex.emit('query', { sql: text, bindings: values, method: 'raw' });
    const result = await connection.query(name ? { name, text, values } : { text, values });
    return { rows: result.rows as R[], affectedRows: result.rowCount ?? 0 };
  } finally {
    await client.releaseConnection(connection);
  }
}

/** A timestamp column as the ORM's pool returns it (Postgres text) or a Date, as a Date; null stays null. */
export function dateOrNull(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  return value instanceof Date ? value : new Date(String(value));
}

function statementName(text: string): string {
  let name = names.get(text);
  if (!name) {
    // Past the bound, fall back to unnamed statements rather than growing every connection's cache.
    name = names.size < MAX_NAMES ? `r${names.size + 1}` : '';
    if (name) names.set(text, name);
  }
  return name;
}

/**
 * Runs a statement (`$1…` placeholders) with its values as bind parameters on `em`'s connection —
 * inside `em`'s transaction (or savepoint) when it has one, so it commits or rolls back with it.
 * MikroORM's own `execute` inlines every value into the SQL text (escaping each, a JSON document
 * character by character) and sends a simple query; this skips that, and with `prepared` (a fixed
 * text) Postgres also parses and plans it once per connection. For the hot statements of the
 * event bus and its consumers; other raw SQL uses `executeSql`.
 */
export async function runStatement<R = Record<string, unknown>>(
  em: EntityManager,
  text: string,
  values: readonly unknown[],
  options: { prepared?: boolean } = {},
): Promise<{ rows: R[]; affectedRows: number }> {
  const knex = em.getConnection().getKnex();
  // A knex transaction's client hands out the transaction's own connection (and releases nothing).
  const transaction = em.getTransactionContext() as { client?: unknown } | undefined;
  const client = (transaction?.client ?? knex.client) as unknown as KnexClient;
  return onConnection<R>(knex, client, text, values, options.prepared ? statementName(text) : '');
}
