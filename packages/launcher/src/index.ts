/**
 * `npm start`: embedded Postgres under `DATA_DIR` (default `.data/`) unless `DATABASE_URL` is set,
 * every subgraph as its own process on its registry port and the gateway on its own (`PORT`
 * overrides it; `PORT=0` puts every service on a free port). Ctrl-C stops them all.
 */
import { createLogger } from '@taskgraph/runtime';
import { loadLauncherConfig, startLauncher } from './launcher.js';
import { stopOnSignals } from './signals.js';

const config = loadLauncherConfig(process.env);
const logger = createLogger('launcher', config.logLevel);
// The children stop gracefully in order; give them their own shutdown time plus Postgres's.
const signals = stopOnSignals(logger, 45_000);

try {
  const launcher = await startLauncher({ config, env: process.env, logger, colour: process.stdout.isTTY === true });
  const url = launcher.url;
  const query = JSON.stringify({ query: '{ tasks(first: 5) { edges { node { id title status } } } }' });
  console.log(
    [
      '',
      `  taskgraph is running: ${url}`,
      `  processes: ${launcher.children.map((c) => `${c.name} (pid ${c.pid()})`).join(', ')}`,
      '  get a token:  npm run -s token -- alice',
      `  try:          curl -s ${url} -H 'content-type: application/json' -H "authorization: Bearer $(npm run -s token -- alice)" -d '${query}'`,
      '  stop:         Ctrl-C',
      '',
    ].join('\n'),
  );
  signals.setClose(() => launcher.close());
} catch (error) {
  logger.fatal({ err: error }, error instanceof Error ? error.message : 'startup failed');
  process.exit(1);
}
