import { startServiceRuntime } from '@taskgraph/events';
import { callerFromRequest, createSubgraphServer, readSchemaFile, type ServiceConfig, startHttpService } from '@taskgraph/runtime';
import { gql } from 'graphql-tag';
import { createContext, type TasksContext } from './context.js';
import { TaskSchema } from './entities/task.entity.js';
import { recurrenceWorker } from './events/recurrence-worker.js';
import { migrations } from './migrations/index.js';
import { resolvers } from './resolvers/index.js';

export const SERVICE_NAME = 'tasks';
export const DEFAULT_PORT = 4001;
/** The subgraph's SDL (schema-first, STYLE §2). */
export const typeDefsSource = readSchemaFile(import.meta.url);

export interface TasksService {
  readonly url: string;
  close(): Promise<void>;
}

/** Starts the tasks subgraph: GraphQL, the outbox relay (dapr) and the recurrence worker. */
export async function createService(config: ServiceConfig): Promise<TasksService> {
  const runtime = await startServiceRuntime({
    name: SERVICE_NAME,
    config,
    database: { schema: 'tasks', entities: [TaskSchema], migrations },
    relay: true,
  });
  const { logger, metrics, db, bus } = runtime;
  bus.subscribe(recurrenceWorker(logger));

  const apollo = createSubgraphServer<TasksContext>(gql(typeDefsSource), resolvers, logger);
  await apollo.start();
  const http = await startHttpService<TasksContext>({
    name: SERVICE_NAME,
    host: config.host,
    port: config.port,
    logger,
    metrics,
    readiness: runtime.readiness,
    routes: bus.routes(),
    graphql: {
      server: apollo,
      context: async (req) => createContext(await callerFromRequest(req, config.internalTokenSecret), db.fork()),
    },
  });
  await bus.start();
  return {
    url: `${http.url}/graphql`,
    async close() {
      await http.close();
      await runtime.close(() => apollo.stop());
    },
  };
}
