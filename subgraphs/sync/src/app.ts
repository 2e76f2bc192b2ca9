import { buildSubgraphSchema } from '@apollo/subgraph';
import { createLogReader, EventType, Topic } from '@taskgraph/events';
import { createLogger, type GraphQLResolverMap, readSchemaFile, SUBGRAPH_SERVICES } from '@taskgraph/runtime';
import { startServiceRuntime } from '@taskgraph/service-kit';
import { gql } from 'graphql-tag';
import { Counter } from 'prom-client';
import { resolveSyncSettings, type SyncServiceConfig } from './config.js';
import type { SyncContext } from './context.js';
import { TaskUpdateSchema } from './entities/task-update.entity.js';
import { UserWatermarkSchema } from './entities/user-watermark.entity.js';
import { prepareConsumers, syncGroups } from './events/consumer-start.js';
import { reminderRelay } from './events/reminder-relay.js';
import { type TaskUpdateIngestOptions, taskUpdateIngest, taskUpdateIngestBatch } from './events/task-update-ingest.js';
import { createCursorCodec } from './feed/cursor-codec.js';
import { OrderedRelease } from './feed/ordered-release.js';
import { RetentionPruner } from './feed/retention.js';
import { SyncFeed } from './feed/sync-feed.js';
import { migrations } from './migrations/index.js';
import { TaskUpdateRepository } from './repositories/task-update.repository.js';
import { resolvers } from './resolvers/index.js';
import { startSubscriptionServer } from './ws-server.js';

/** This service's registry entry: name, port, Dapr app-id, Postgres schema (CONVENTIONS §16). */
export const SERVICE = SUBGRAPH_SERVICES.sync;
/** The subgraph's SDL (schema-first, CONVENTIONS §2). */
export const typeDefsSource = readSchemaFile(import.meta.url);

export type { SyncServiceConfig, SyncSettings } from './config.js';
/** Opaque per-user cursors (tests that need to order them decode with the service's secret). */
export { CURSOR_PATTERN, type CursorCodec, createCursorCodec } from './feed/cursor-codec.js';

export interface SyncService {
  /** GraphQL endpoint: HTTP queries and graphql-ws subscriptions (ws:// on the same URL). */
  readonly url: string;
  /** This process's instance id (its consumer group is `sync-<instanceId>`). */
  readonly instanceId: string;
  /** Prunes the replay window now (tests, operations); undefined when another instance was pruning. */
  prune(): Promise<number | undefined>;
  close(): Promise<void>;
}

/**
 * Starts the sync subgraph: consumes `task-updates` (into the retained replay window) and
 * `reminders`, and serves `Query.syncRetention` over HTTP and the `Subscription` fields over
 * graphql-ws on the same port and path.
 */
export async function createService(config: SyncServiceConfig): Promise<SyncService> {
  const settings = resolveSyncSettings(config.sync);
  const runtime = await startServiceRuntime({
    service: SERVICE,
    config,
    database: { entities: [TaskUpdateSchema, UserWatermarkSchema], migrations },
    relay: false,
    logger: createLogger(SERVICE.name, config.logLevel).child({ instance: settings.instanceId }),
  });
  const { logger, metrics, db, bus } = runtime;
  const livePushes = new Counter({
    name: 'sync_live_pushes_total',
    help: 'Task updates handed to live subscriptions of this process',
    registers: [metrics.registry],
  });

  const feed = new SyncFeed(db, settings, metrics, createCursorCodec(config.internalTokenSecret));
  const touchedUsers = new Set<string>();
  const groups = syncGroups(settings.instanceId);
  const embedded = config.eventBus === 'embedded';
  const log = createLogReader(db);
  const start = await prepareConsumers(db.fork(), log);
  // Embedded: this process's consumer reads the log in cursor order, so it publishes directly.
  // Dapr: deliveries are ordered per task only, so publishing goes through the ordered release.
  const release = embedded
    ? undefined
    : new OrderedRelease({
        db,
        log,
        hub: feed.taskUpdates,
        logger,
        holdMs: settings.reorderHoldMs,
        pollMs: settings.releasePollMs,
        onPublished: (n) => livePushes.inc(n),
      });
  if (release) feed.horizon = () => release.horizon;
  const ingest: TaskUpdateIngestOptions = {
    onStored: (update) => {
      feed.delivery.stored(update);
      if (release) release.wake();
      else livePushes.inc(feed.taskUpdates.publish(update.userId, update));
    },
    logger,
    retentionMs: settings.retentionSeconds * 1000,
    touchedUsers,
  };
  bus.subscribe({
    group: groups.taskUpdates,
    topic: Topic.TaskUpdates,
    startAt: start.taskUpdates,
    // A batch's live pushes land together when it commits: keep a burst well inside a live subscriber's 50-slot queue.
    maxBatch: 25,
    handler: taskUpdateIngest(ingest),
    batchHandler: taskUpdateIngestBatch(ingest),
  });
  bus.subscribe({
    group: groups.reminders,
    topic: Topic.Reminders,
    types: [EventType.ReminderDue],
    startAt: start.reminders,
    handler: reminderRelay({ hub: feed.reminders, logger, maxAgeMs: settings.reminderMaxAgeMs }),
  });
  const pruner = new RetentionPruner(
    db,
    { retentionSeconds: settings.retentionSeconds, maxPerUser: settings.retentionMaxPerUser },
    touchedUsers,
    settings.pruneIntervalMs,
    logger,
  );

  const typeDefs = gql(typeDefsSource);
  const http = await runtime.serve<SyncContext>({
    config,
    typeDefs,
    resolvers,
    readiness: [
      { name: 'database', check: async () => ({ ok: await db.ping() }) },
      {
        name: 'bus',
        check: async () => ({
          ok: await bus.ready(),
          detail: {
            // embedded: events behind the log head per consumer group of this process
            lag: await bus.lag().catch(() => undefined),
            // dapr: task updates in the log not yet published live here (waiting for delivery/order)
            ...(release ? { liveBacklog: await release.backlog().catch(() => undefined) } : {}),
          },
        }),
      },
    ],
    context: (caller) => ({ caller, feed }),
  });
  const subscriptions = startSubscriptionServer({
    server: http.server,
    path: '/graphql',
    // A second executable schema from the same SDL and resolvers: graphql-ws executes against it directly.
    // biome-ignore lint/suspicious/noExplicitAny: resolver maps are checked per subgraph (as in createSubgraphServer)
    schema: buildSubgraphSchema({ typeDefs, resolvers: resolvers as GraphQLResolverMap<any> }),
    feed,
    internalTokenSecret: config.internalTokenSecret,
    keepAliveMs: settings.keepAliveMs,
    maxPayloadBytes: settings.maxPayloadBytes,
    logger,
  });
  release?.start(await new TaskUpdateRepository(db.fork()).head());
  await bus.start();
  pruner.start();
  logger.info({ group: groups.taskUpdates, mode: config.eventBus }, 'sync consuming');
  return {
    url: `${http.url}/graphql`,
    instanceId: settings.instanceId,
    prune: () => pruner.runOnce(),
    async close() {
      await pruner.stop();
      await release?.close();
      await subscriptions.close();
      await runtime.close();
    },
  };
}
