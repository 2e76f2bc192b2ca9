import { createScheduler } from '@taskgraph/events';
import { readSchemaFile } from '@taskgraph/runtime';
import { startServiceRuntime } from '@taskgraph/service-kit';
import { gql } from 'graphql-tag';
import { type NotificationsConfig, resolveSettings, SERVICE } from './config.js';
import { createContext, type NotificationsContext } from './context.js';
import { NotificationSchema } from './entities/notification.entity.js';
import { ReminderSchema } from './entities/reminder.entity.js';
import { TrackedTaskSchema } from './entities/tracked-task.entity.js';
import type { ReminderDeps } from './events/reminder-deps.js';
import { createReminderMetrics } from './events/reminder-metrics.js';
import { reminderTrigger } from './events/reminder-trigger.js';
import { taskEventsConsumer } from './events/task-events-consumer.js';
import { migrations } from './migrations/index.js';
import { resolvers } from './resolvers/index.js';

export type { NotificationsConfig };
export { SERVICE };
/** The subgraph's SDL (schema-first, CONVENTIONS §2). */
export const typeDefsSource = readSchemaFile(import.meta.url);

export interface NotificationsService {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Starts the notifications subgraph: GraphQL (inbox + `Task.reminders`), the `task-events`
 * consumer that schedules reminders, the job trigger that turns them into notifications, and the
 * outbox relay for `reminders` events (dapr).
 */
export async function createService(config: NotificationsConfig): Promise<NotificationsService> {
  const settings = resolveSettings(config);
  const runtime = await startServiceRuntime({
    service: SERVICE,
    config,
    database: { entities: [TrackedTaskSchema, ReminderSchema, NotificationSchema], migrations },
    relay: true,
  });
  const { logger, metrics, db, bus } = runtime;
  const scheduler = await createScheduler({
    mode: config.eventBus,
    db,
    logger: logger.child({ component: 'scheduler' }),
    appId: SERVICE.appId,
    dapr: config.dapr,
    failurePolicy: { intervalMs: settings.jobRetryIntervalMs, maxRetries: settings.jobMaxRetries },
  });
  const deps: ReminderDeps = { scheduler, logger, metrics: createReminderMetrics(metrics.registry), graceMs: settings.reminderGraceMs };
  bus.subscribe(taskEventsConsumer(deps));
  scheduler.onTrigger(reminderTrigger(deps));

  const http = await runtime.serve<NotificationsContext>({
    config,
    typeDefs: gql(typeDefsSource),
    resolvers,
    // Dapr: `/dapr/subscribe` + `/events/task-events` (bus) and `/job/{name}` (scheduler).
    routes: [...bus.routes(), ...scheduler.routes()],
    context: (caller) => createContext(caller, db.fork()),
  });
  await scheduler.start();
  await bus.start();
  return {
    url: `${http.url}/graphql`,
    async close() {
      await runtime.close(() => scheduler.close());
    },
  };
}
