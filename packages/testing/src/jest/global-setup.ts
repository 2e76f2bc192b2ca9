import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../../../runtime/src/embedded-postgres.js';

/**
 * Starts one embedded Postgres for the whole Jest run when `DATABASE_URL` is unset (what a new
 * user has) and hands its URL to the workers through `TEST_DATABASE_URL`; each test file then
 * creates its own database on it (see `createTestDatabase`).
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.DATABASE_URL) {
    process.env.TEST_DATABASE_URL = process.env.DATABASE_URL;
    return;
  }
  const dataDir = join(await mkdtemp(join(tmpdir(), 'taskgraph-test-')), 'pg');
  const pg = await startEmbeddedPostgres({ dataDir, persistent: false, fast: true });
  process.env.TEST_DATABASE_URL = pg.url;
  (globalThis as { __taskgraphPg?: { stop(): Promise<void> } }).__taskgraphPg = pg;
}
