import { createLogger, loadServiceConfig, runMain } from '@taskgraph/runtime';
import { createService, DEFAULT_PORT, SERVICE_NAME } from './app.js';

await runMain(() => createService(loadServiceConfig(DEFAULT_PORT)), createLogger(SERVICE_NAME));
