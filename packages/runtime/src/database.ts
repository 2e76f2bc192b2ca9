import { type EntitySchema, type MigrationObject, MikroORM } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { type EntityManager, PostgreSqlDriver } from '@mikro-orm/postgresql';
import pg from 'pg';
import type { Logger } from './logger.js';

export type { EntityManager };

/** Options for one service's database: its own Postgres schema, entities and committed migrations. */
export interface DatabaseOptions {
  url: string;
  /** Postgres schema the service owns (ARCHITECTURE §2): no service reads another's tables. */
  schema: string;
  // biome-ignore lint/suspicious/noExplicitAny: MikroORM schemas are heterogeneous
  entities: EntitySchema<any, any>[];
  migrations: MigrationObject[];
  logger: Logger;
  poolMax?: number;
  /** Called for every SQL statement the ORM sends (metrics, N+1 tests). */
  onQuery?: (sql: string) => void;
}

/** A service's database handle. */
export interface Database {
  readonly orm: MikroORM<PostgreSqlDriver>;
  readonly schema: string;
  readonly url: string;
  /** A fresh EntityManager for one request or one event (CONVENTIONS §3). */
  fork(): EntityManager;
  /** True when a trivial query succeeds. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Opens MikroORM on the service's schema and runs its committed migrations. Migrations are
 * serialised across processes with an advisory lock so replicas starting together do not race.
 */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  await runLocked(options.url, `migrate:${options.schema}`, async (client) => {
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${options.schema}"`);
  });
  const orm = await MikroORM.init<PostgreSqlDriver>({
    driver: PostgreSqlDriver,
    clientUrl: options.url,
    schema: options.schema,
    entities: options.entities,
    extensions: [Migrator],
    discovery: { warnWhenNoEntities: false },
    migrations: {
      tableName: 'mikro_orm_migrations',
      migrationsList: options.migrations,
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      silent: true,
    },
    pool: { min: 0, max: options.poolMax ?? 10 },
    allowGlobalContext: false,
    forceUtcTimezone: true,
    debug: false,
    logger: (message) => options.logger.debug({ orm: message }),
  });
  await runLocked(options.url, `migrate:${options.schema}`, async () => {
    await orm.getMigrator().up();
  });
  const onQuery = options.onQuery;
  if (onQuery)
    orm.em
      .getConnection()
      .getKnex()
      .on('query', (q: { sql: string }) => onQuery(q.sql));
  return {
    orm,
    schema: options.schema,
    url: options.url,
    fork: () => orm.em.fork() as EntityManager,
    async ping() {
      try {
        await orm.em.getConnection().execute('select 1');
        return true;
      } catch {
        return false;
      }
    },
    close: () => orm.close(true),
  };
}

/** Runs `work` while holding a Postgres advisory lock named by `key`. */
export async function runLocked<T>(url: string, key: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('select pg_advisory_lock(hashtext($1))', [key]);
    return await work(client);
  } finally {
    await client.query('select pg_advisory_unlock(hashtext($1))', [key]).catch(() => {});
    await client.end();
  }
}
