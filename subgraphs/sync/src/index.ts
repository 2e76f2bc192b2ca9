import { createLogger, loadServiceConfig, runMain } from '@taskgraph/runtime';
import { createService, DEFAULT_PORT, SERVICE_NAME } from './app.js';
import { loadSyncSettings } from './config.js';

await runMain(() => createService({ ...loadServiceConfig(DEFAULT_PORT), sync: loadSyncSettings() }), createLogger(SERVICE_NAME));
