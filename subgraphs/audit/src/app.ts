import { readSchemaFile, type ServiceConfig, SUBGRAPH_SERVICES } from '@taskgraph/runtime';
import { startServiceRuntime } from '@taskgraph/service-kit';
import { gql } from 'graphql-tag';
import { type AuditContext, createContext } from './context.js';
import { AuditEntrySchema } from './entities/audit-entry.entity.js';
import { auditRecorder } from './events/audit-recorder.js';
import { migrations } from './migrations/index.js';
import { resolvers } from './resolvers/index.js';

/** This service's registry entry: name, port, Dapr app-id, Postgres schema (CONVENTIONS §16). */
export const SERVICE = SUBGRAPH_SERVICES.audit;
/** The subgraph's SDL (schema-first, CONVENTIONS §2). */
export const typeDefsSource = readSchemaFile(import.meta.url);

export interface AuditService {
  readonly url: string;
  close(): Promise<void>;
}

/** Starts the audit subgraph: GraphQL (`auditLog`, `Task.history`) and the `task-events` consumer. */
export async function createService(config: ServiceConfig): Promise<AuditService> {
  const runtime = await startServiceRuntime({
    service: SERVICE,
    config,
    database: { entities: [AuditEntrySchema], migrations },
    // audit only consumes: no outbox relay here.
    relay: false,
  });
  const { logger, db, bus } = runtime;
  // Also used when start-up fails half way: closes what was opened, logging (not stopping at) a failing step.
  const close = () => runtime.close();
  try {
    bus.subscribe(auditRecorder(logger));
    const http = await runtime.serve<AuditContext>({
      config,
      typeDefs: gql(typeDefsSource),
      resolvers,
      context: (caller) => createContext(caller, db.fork()),
    });
    await bus.start();
    return { url: `${http.url}/graphql`, close };
  } catch (error) {
    await close();
    throw error;
  }
}
