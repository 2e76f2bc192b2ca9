import { createLogger, runMain } from '@taskgraph/runtime';
import { createService } from './app.js';
import { loadNotificationsConfig, SERVICE } from './config.js';

await runMain(() => createService(loadNotificationsConfig()), createLogger(SERVICE.name), SERVICE.name);
