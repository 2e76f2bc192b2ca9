import { createLogger, loadServiceConfig, runMain } from '@taskgraph/runtime';
import { createService, SERVICE } from './app.js';

await runMain(() => createService(loadServiceConfig(SERVICE.port)), createLogger(SERVICE.name), SERVICE.name);
