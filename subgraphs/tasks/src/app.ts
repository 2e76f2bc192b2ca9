import { readSchemaFile, type ServiceConfig, SUBGRAPH_SERVICES } from '@taskgraph/runtime';
import { startServiceRuntime } from '@taskgraph/service-kit';
import { gql } from 'graphql-tag';
import { createContext, type TasksContext } from './context.js';
import { TaskSchema } from './entities/task.entity.js';
import { recurrenceWorker } from './events/recurrence-worker.js';
import { migrations } from './migrations/index.js';
import { resolvers } from './resolvers/index.js';

/** This service's registry entry: name, port, Dapr app-id, Postgres schema (CONVENTIONS §16). */
export const SERVICE = SUBGRAPH_SERVICES.tasks;
/** The subgraph's SDL (schema-first, CONVENTIONS §2). */
export const typeDefsSource = readSchemaFile(import.meta.url);

export interface TasksService {
  readonly url: string;
  close(): Promise<void>;
}

/** Starts the tasks subgraph: GraphQL, the outbox relay (dapr) and the recurrence worker. */
export async function createService(config: ServiceConfig): Promise<TasksService> {
  const runtime = await startServiceRuntime({
    service: SERVICE,
    config,
    database: { entities: [TaskSchema], migrations },
    relay: true,
  });
  const { logger, db, bus } = runtime;
  bus.subscribe(recurrenceWorker(logger));

  const http = await runtime.serve<TasksContext>({
    config,
    typeDefs: gql(typeDefsSource),
    resolvers,
    context: (caller) => createContext(caller, db.fork()),
  });
  await bus.start();
  return {
    url: `${http.url}/graphql`,
    async close() {
      await runtime.close();
    },
  };
}
