import { createEventBus } from '@taskgraph/events';
import {
  callerFromRequest,
  createLogger,
  createMetrics,
  createSubgraphServer,
  locatePostgres,
  openDatabase,
  readSchemaFile,
  type ServiceConfig,
  startHttpService,
} from '@taskgraph/runtime';
import { gql } from 'graphql-tag';
import { type AuditContext, createContext } from './context.js';
import { AuditEntrySchema } from './entities/audit-entry.entity.js';
import { auditRecorder } from './events/audit-recorder.js';
import { migrations } from './migrations/index.js';
import { resolvers } from './resolvers/index.js';

export const SERVICE_NAME = 'audit';
export const DEFAULT_PORT = 4002;
/** The subgraph's SDL (schema-first, STYLE §2). */
export const typeDefsSource = readSchemaFile(import.meta.url);

export interface AuditService {
  readonly url: string;
  close(): Promise<void>;
}

/** Starts the audit subgraph: GraphQL (`auditLog`, `Task.history`) and the `task-events` consumer. */
export async function createService(config: ServiceConfig): Promise<AuditService> {
  const logger = createLogger(SERVICE_NAME, config.logLevel);
  const metrics = createMetrics(SERVICE_NAME);
  // Resources close in reverse order of opening, also when start-up fails half way.
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) await close().catch((err) => logger.error({ err }, 'close failed'));
  };
  try {
    const postgres = await locatePostgres(config.databaseUrl, config.dataDir, logger);
    closers.push(() => postgres.stop());
    const db = await openDatabase({
      url: postgres.url,
      schema: 'audit',
      entities: [AuditEntrySchema],
      migrations,
      logger,
      onQuery: () => metrics.dbQueries.inc(),
    });
    closers.push(() => db.close());
    // audit only consumes: no outbox relay here.
    const bus = await createEventBus({ mode: config.eventBus, db, logger, metrics, appId: SERVICE_NAME, relay: false, dapr: config.dapr });
    closers.push(() => bus.close());
    bus.subscribe(auditRecorder(logger));

    const apollo = createSubgraphServer<AuditContext>(gql(typeDefsSource), resolvers);
    await apollo.start();
    closers.push(() => apollo.stop());
    const http = await startHttpService<AuditContext>({
      name: SERVICE_NAME,
      host: config.host,
      port: config.port,
      logger,
      metrics,
      readiness: [
        { name: 'database', check: async () => ({ ok: await db.ping() }) },
        // `lag()` also refreshes the consumer_lag_events gauge served on /metrics.
        { name: 'bus', check: async () => ({ ok: await bus.ready(), detail: await bus.lag().catch(() => undefined) }) },
      ],
      routes: bus.routes(),
      graphql: {
        server: apollo,
        context: async (req) => createContext(await callerFromRequest(req, config.internalTokenSecret), db.fork()),
      },
    });
    // Stop accepting first on close: http was opened last.
    closers.push(() => http.close());
    await bus.start();
    return { url: `${http.url}/graphql`, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
