import { createLogger, runMain } from '@taskgraph/runtime';
import { createService } from './app.js';
import { loadNotificationsConfig, SERVICE_NAME } from './config.js';

await runMain(() => createService(loadNotificationsConfig()), createLogger(SERVICE_NAME));
