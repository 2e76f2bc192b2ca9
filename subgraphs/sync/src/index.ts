import { createLogger, loadServiceConfig, runMain } from '@taskgraph/runtime';
import { createService, SERVICE } from './app.js';
import { loadSyncSettings } from './config.js';

await runMain(
  () => createService({ ...loadServiceConfig(SERVICE.port), sync: loadSyncSettings() }),
  createLogger(SERVICE.name),
  SERVICE.name,
);
