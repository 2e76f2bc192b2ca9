import type { EventBus } from './bus.js';
import { ensureBusSchema } from './bus-schema.js';
import { DaprEventBus } from './dapr-bus.js';
import { EmbeddedEventBus } from './embedded-bus.js';
import type { EventBusOptions } from './event-bus-options.js';

/**
 * Creates the service's event bus for `options.mode` (ARCHITECTURE §3) after making sure schema `bus`
 * exists. Register consumers with `subscribe()`, serve `routes()` on the service's HTTP server,
 * then `start()`; `close()` before closing the database.
 */
export async function createEventBus(options: EventBusOptions): Promise<EventBus> {
  await ensureBusSchema(options.db.url);
  return options.mode === 'dapr' ? new DaprEventBus(options) : new EmbeddedEventBus(options);
}
