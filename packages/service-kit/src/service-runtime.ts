import { createEventBus, type EventBus } from '@taskgraph/events';
import {
  type Caller,
  callerFromRequest,
  createLogger,
  createMetrics,
  createSubgraphServer,
  type Database,
  type DatabaseOptions,
  type HttpRoute,
  type HttpService,
  type Logger,
  locatePostgres,
  type Metrics,
  openDatabase,
  type ReadinessCheck,
  type ServiceConfig,
  type SubgraphSpec,
  startHttpService,
} from '@taskgraph/runtime';

/** Options of `startServiceRuntime`. */
export interface ServiceRuntimeOptions {
  /**
   * The service's registry entry (CONVENTIONS §16): `name` labels logs and metrics, `appId` is the bus's
   * Dapr app-id, `schema` the Postgres schema the service owns.
   */
  service: Pick<SubgraphSpec, 'name' | 'appId' | 'schema'>;
  config: Pick<ServiceConfig, 'logLevel' | 'databaseUrl' | 'dataDir' | 'eventBus' | 'dapr'>;
  /** The entities and committed migrations of the service's own schema. */
  database: Pick<DatabaseOptions, 'entities' | 'migrations'>;
  /** Whether this service relays its outbox to Dapr (services that publish); see `EventBusOptions.relay`. */
  relay: boolean;
  /** The service logger, when it needs more than `createLogger(name, config.logLevel)` (e.g. an instance id). */
  logger?: Logger;
}

/** Options of `ServiceRuntime.serve`. */
export interface SubgraphServeOptions<TContext extends object> {
  config: Pick<ServiceConfig, 'host' | 'port' | 'adminPort' | 'internalTokenSecret'>;
  /** The subgraph's parsed SDL and resolvers (schema-first, CONVENTIONS §2). */
  typeDefs: Parameters<typeof createSubgraphServer>[0];
  resolvers: Parameters<typeof createSubgraphServer>[1];
  /** Per-request context for a caller the gateway's internal token identified (CONVENTIONS §3). */
  context(caller: Caller): TContext;
  /** Extra HTTP routes; default: the bus's (Dapr subscription routes). */
  routes?: HttpRoute[];
  /** `/readyz` checks; default: the runtime's `readiness`. */
  readiness?: ReadinessCheck[];
}

/** What every subgraph process runs on: logging, metrics, its database and the event bus. */
export interface ServiceRuntime {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly db: Database;
  readonly bus: EventBus;
  /** `/readyz` checks: `database` (ping) and `bus` (ready; detail is the consumer lag). */
  readonly readiness: ReadinessCheck[];
  /**
   * Starts the subgraph's Apollo server and its HTTP service (`/healthz`, `/readyz`, `/metrics`,
   * GraphQL for callers with the gateway's internal token, and `routes`); `close()` stops both.
   */
  serve<TContext extends object>(options: SubgraphServeOptions<TContext>): Promise<HttpService>;
  /**
   * Stops HTTP from accepting (if `serve` ran), closes the bus, then `stopAfterBus` in the order given
   * (whatever still uses the database, e.g. the scheduler), then the Apollo server, the database and
   * Postgres. A step that fails is logged and the remaining steps still run.
   */
  close(...stopAfterBus: (() => Promise<void>)[]): Promise<void>;
}

/**
 * Opens what every subgraph shares (logger, metrics, Postgres, the service's database with the
 * `db_queries_total` metric, the event bus); wiring handlers, GraphQL and HTTP stays with the service.
 * If start-up fails half way, what was opened is closed again before the error is rethrown.
 */
export async function startServiceRuntime(options: ServiceRuntimeOptions): Promise<ServiceRuntime> {
  const { service, config } = options;
  const name = service.name;
  const logger = options.logger ?? createLogger(name, config.logLevel);
  const metrics = createMetrics(name);
  const run = async (steps: (() => Promise<void>)[]) => {
    for (const step of steps) await step().catch((err) => logger.error({ err }, 'close failed'));
  };
  const opened: (() => Promise<void>)[] = [];
  try {
    const postgres = await locatePostgres(config.databaseUrl, config.dataDir, logger);
    opened.unshift(() => postgres.stop());
    const db = await openDatabase({
      url: postgres.url,
      schema: service.schema,
      ...options.database,
      logger,
      onQuery: () => metrics.dbQueries.inc(),
    });
    opened.unshift(() => db.close());
    const bus = await createEventBus({
      mode: config.eventBus,
      db,
      logger,
      metrics,
      appId: service.appId,
      relay: options.relay,
      dapr: config.dapr,
    });
    const readiness: ReadinessCheck[] = [
      { name: 'database', check: async () => ({ ok: await db.ping() }) },
      // `lag()` also refreshes the consumer_lag_events gauge served on /metrics.
      { name: 'bus', check: async () => ({ ok: await bus.ready(), detail: await bus.lag().catch(() => undefined) }) },
    ];
    // Set by `serve`: HTTP stops first, Apollo after the bus and whatever else still uses the database.
    const stopHttp: (() => Promise<void>)[] = [];
    const stopApollo: (() => Promise<void>)[] = [];
    return {
      logger,
      metrics,
      db,
      bus,
      readiness,
      async serve<TContext extends object>(serve: SubgraphServeOptions<TContext>): Promise<HttpService> {
        const apollo = createSubgraphServer<TContext>(serve.typeDefs, serve.resolvers, logger);
        await apollo.start();
        stopApollo.push(() => apollo.stop());
        const http = await startHttpService<TContext>({
          name,
          host: serve.config.host,
          port: serve.config.port,
          adminPort: serve.config.adminPort,
          logger,
          metrics,
          readiness: serve.readiness ?? readiness,
          routes: serve.routes ?? bus.routes(),
          graphql: {
            server: apollo,
            context: async (req) => serve.context(await callerFromRequest(req, serve.config.internalTokenSecret)),
          },
        });
        stopHttp.push(() => http.close());
        return http;
      },
      close: (...stopAfterBus) => run([...stopHttp, () => bus.close(), ...stopAfterBus, ...stopApollo, ...opened]),
    };
  } catch (error) {
    await run(opened);
    throw error;
  }
}
