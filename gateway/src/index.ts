import { createLogger, runMain } from '@taskgraph/runtime';
import { createGateway } from './app.js';
import { loadGatewayConfig } from './config.js';

const logger = createLogger('gateway');
await runMain(async () => createGateway(loadGatewayConfig()), logger, 'gateway');
