import type { Scheduler } from './bus.js';
import { ensureBusSchema } from './bus-schema.js';
import { DaprScheduler } from './dapr-scheduler.js';
import { EmbeddedScheduler } from './embedded-scheduler.js';
import type { SchedulerOptions } from './scheduler-options.js';

/**
 * Creates the scheduler for `options.mode` (ARCHITECTURE §3/§5). Register the handler with
 * `onTrigger()`, serve `routes()` (dapr: `POST /job/{name}`), then `start()`.
 */
export async function createScheduler(options: SchedulerOptions): Promise<Scheduler> {
  await ensureBusSchema(options.db.url);
  return options.mode === 'dapr' ? new DaprScheduler(options) : new EmbeddedScheduler(options);
}
