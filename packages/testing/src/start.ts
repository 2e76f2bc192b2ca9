/**
 * `npm start`: the whole system in one process (ARCHITECTURE §3, embedded mode). Starts embedded
 * Postgres under `DATA_DIR` (default `.data/`) unless `DATABASE_URL` is set, every subgraph on its
 * fixed port (4001-4004) and the gateway on 4000 (`PORT` overrides the gateway's port).
 */
import { GATEWAY_PORT, loadGatewayConfig, SUBGRAPH_PORTS } from '@taskgraph/gateway';
import { closeOnSignals, createLogger, loadServiceConfig, locatePostgres } from '@taskgraph/runtime';
import { startSystem } from './system.js';

// Env is read by the services' own typed loaders; PORT belongs to the gateway here.
const gatewayConfig = loadGatewayConfig(process.env);
const { port: _servicePort, databaseUrl, ...service } = loadServiceConfig(SUBGRAPH_PORTS.tasks, { ...process.env, PORT: undefined });
const logger = createLogger('start', service.logLevel);

try {
  const postgres = await locatePostgres(databaseUrl, service.dataDir, logger);
  let system: Awaited<ReturnType<typeof startSystem>>;
  try {
    system = await startSystem({
      databaseUrl: postgres.url,
      ports: { ...SUBGRAPH_PORTS, gateway: gatewayConfig.port },
      service,
      gateway: {
        nodeEnv: gatewayConfig.nodeEnv,
        host: gatewayConfig.host,
        logLevel: gatewayConfig.logLevel,
        jwt: gatewayConfig.jwt,
        internalTokenSecret: gatewayConfig.internalTokenSecret,
        limits: gatewayConfig.limits,
      },
    });
  } catch (error) {
    await postgres.stop();
    throw error;
  }
  const url = system.gatewayUrl;
  const query = JSON.stringify({ query: '{ tasks(first: 5) { edges { node { id title status } } } }' });
  console.log(
    [
      '',
      `  taskgraph is running: ${url}${gatewayConfig.port === GATEWAY_PORT ? '' : ` (PORT=${gatewayConfig.port})`}`,
      `  subgraphs: ${Object.entries(system.services)
        .map(([name, s]) => `${name} ${s.url}`)
        .join(', ')}`,
      '  get a token:  npm run -s token -- alice',
      `  try:          curl -s ${url} -H 'content-type: application/json' -H "authorization: Bearer $(npm run -s token -- alice)" -d '${query}'`,
      '  stop:         Ctrl-C',
      '',
    ].join('\n'),
  );
  closeOnSignals(async () => {
    await system.close();
    await postgres.stop();
  }, logger);
} catch (error) {
  logger.fatal({ err: error }, error instanceof Error ? error.message : 'startup failed');
  process.exit(1);
}
