import { resolve } from 'node:path';
import { type EmbeddedPostgresHandle, startEmbeddedPostgres } from './embedded-postgres.js';
import type { Logger } from './logger.js';

/** Where a service's Postgres is: a configured server, or one this process started. */
export interface PostgresLocation {
  readonly url: string;
  readonly embedded: EmbeddedPostgresHandle | undefined;
  stop(): Promise<void>;
}

/**
 * `DATABASE_URL` set → use that server. Unset → start embedded Postgres with its data under
 * `<DATA_DIR>/postgres` (ARCHITECTURE §3), so a fresh clone needs no database installed.
 */
export async function locatePostgres(databaseUrl: string | undefined, dataDir: string, logger: Logger): Promise<PostgresLocation> {
  if (databaseUrl) return { url: databaseUrl, embedded: undefined, stop: async () => {} };
  const dir = resolve(dataDir, 'postgres');
  const started = Date.now();
  const embedded = await startEmbeddedPostgres({ dataDir: dir });
  logger.info({ port: embedded.port, dataDir: dir, ms: Date.now() - started }, 'embedded Postgres started');
  return { url: embedded.url, embedded, stop: () => embedded.stop() };
}
