import { executeQueryPlan, type GraphQLDataSource, type GraphQLDataSourceProcessOptions, type ServiceMap } from '@apollo/gateway';
import type { PlanNode, QueryPlan } from '@apollo/query-planner';
import type { Logger } from '@taskgraph/runtime';
import { type FormattedExecutionResult, GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { GatewayContext } from '../subgraph-data-source.js';
import type { SubscriptionPlan, SubscriptionPlanner } from './planner.js';

/** The gateway's error formatting (codes kept, internals masked), shared with HTTP responses. */
export type FormatError = (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;

type RequestContext = Parameters<typeof executeQueryPlan>[2];

/** One event as the subscription subgraph sent it (`next` payload). */
export type UpstreamEvent = FormattedExecutionResult<Record<string, unknown>>;

export interface EventExecution {
  planner: SubscriptionPlanner;
  plan: SubscriptionPlan;
  /** The client operation's (coerced) variables. */
  variables: Record<string, unknown>;
  userId: string;
  /** Subgraph name → data source (the gateway's own: same URLs, same internal-token headers). */
  dataSources: ReadonlyMap<string, GraphQLDataSource>;
  formatError: FormatError;
  logger: Logger;
  /** Pass each event's `extensions.causal` on to its entity fetches (causal freshness; default on). */
  causalFreshness?: boolean;
}

/**
 * The synthetic plan run per event: the subscription's `primary` fetch (answered from the event
 * itself, see `eventDataSource`) followed by `rest`. Running both through Apollo's
 * `executeQueryPlan` gives entity fetches, `requires`/representations, rewrites, error paths and
 * response shaping exactly as for HTTP queries.
 */
const eventPlans = new WeakMap<SubscriptionPlan, QueryPlan>();

function eventPlan(plan: SubscriptionPlan): QueryPlan {
  let queryPlan = eventPlans.get(plan);
  if (!queryPlan) {
    const nodes: PlanNode[] = plan.rest ? [plan.primary, plan.rest] : [plan.primary];
    queryPlan = { kind: 'QueryPlan', node: { kind: 'Sequence', nodes } };
    eventPlans.set(plan, queryPlan);
  }
  return queryPlan;
}

/**
 * Answers the primary fetch with the event the subgraph pushed (a fresh copy: the executor merges
 * entity data into it) and delegates every other fetch to the real data source of that subgraph.
 */
function eventDataSource(
  primaryOperation: string,
  event: UpstreamEvent,
  real: GraphQLDataSource | undefined,
  causal: CausalVersions | undefined,
): GraphQLDataSource {
  return {
    async process(options: GraphQLDataSourceProcessOptions) {
      if (options.request.query === primaryOperation) {
        return {
          data: event.data ? structuredClone(event.data) : null,
          ...(event.errors ? { errors: event.errors as GraphQLError[] } : {}),
        };
      }
      if (!real) throw new Error('no data source for the subscription subgraph');
      return real.process(withCausalVersions(options, causal));
    },
  };
}

/** Every entity fetch of an event carries its causal versions (see `withCausalVersions`). */
function causalDataSource(real: GraphQLDataSource, causal: CausalVersions): GraphQLDataSource {
  return {
    process(options: GraphQLDataSourceProcessOptions) {
      return real.process(withCausalVersions(options, causal));
    },
  };
}

/** `extensions.causal` of an event: `{ <typename>: { <id>: <version> } }` (see `withCausalVersions`). */
type CausalVersions = Record<string, Record<string, number>>;

function causalVersions(event: UpstreamEvent): CausalVersions | undefined {
  const causal = (event.extensions as { causal?: unknown } | undefined)?.causal;
  return typeof causal === 'object' && causal !== null ? (causal as CausalVersions) : undefined;
}

/**
 * Causal freshness (ARCHITECTURE §6): an entity fetch made for an event carries, in each matching
 * representation, `__causal: { version }`, the version of that entity the event is about. A
 * subgraph that builds the entity from events (audit) answers once it has recorded that version,
 * within a bounded wait; others ignore the field (`_Any` representations are passed through).
 */
function withCausalVersions(options: GraphQLDataSourceProcessOptions, causal: CausalVersions | undefined): GraphQLDataSourceProcessOptions {
  const representations = options.request.variables?.representations;
  if (!causal || !Array.isArray(representations)) return options;
  let changed = false;
  const marked = representations.map((rep: unknown) => {
    const { __typename, id } = (rep ?? {}) as { __typename?: unknown; id?: unknown };
    const version = typeof __typename === 'string' && typeof id === 'string' ? causal[__typename]?.[id] : undefined;
    if (typeof version !== 'number') return rep;
    changed = true;
    return { ...(rep as object), __causal: { version } };
  });
  if (!changed) return options;
  return {
    ...options,
    request: { ...options.request, variables: { ...options.request.variables, representations: marked } },
  } as GraphQLDataSourceProcessOptions;
}

/** Formats executor errors the way Apollo Server formats HTTP responses (non-GraphQLErrors wrapped). */
export function formatErrors(errors: readonly unknown[], formatError: FormatError): GraphQLFormattedError[] {
  return errors.map((error) => {
    const graphQLError =
      error instanceof GraphQLError
        ? error
        : new GraphQLError(error instanceof Error ? error.message : String(error), { originalError: error as Error });
    return formatError(graphQLError.toJSON(), graphQLError);
  });
}

/**
 * Resolves one upstream event into the client's result: runs the plan's `rest` (entity fetches
 * over HTTP with the caller's internal token) on the event's data and shapes the response to the
 * client's operation (aliases, `__typename`, fragments).
 */
export async function executeSubscriptionEvent(execution: EventExecution, event: UpstreamEvent): Promise<FormattedExecutionResult> {
  const { plan, planner } = execution;
  if (event.data == null) {
    // Nothing to resolve: the subgraph reported only errors (e.g. RESYNC_REQUIRED).
    return { errors: formatErrors(toGraphQLErrors(event.errors ?? []), execution.formatError) };
  }
  const serviceMap: ServiceMap = Object.create(null);
  const causal = execution.causalFreshness === false ? undefined : causalVersions(event);
  for (const [name, source] of execution.dataSources) serviceMap[name] = causal ? causalDataSource(source, causal) : source;
  const primaryService = plan.primary.serviceName;
  serviceMap[primaryService] = eventDataSource(plan.primary.operation, event, execution.dataSources.get(primaryService), causal);

  const context: GatewayContext = { userId: execution.userId };
  const requestContext = {
    request: { variables: execution.variables },
    context,
    logger: execution.logger,
    metrics: {},
    operationName: plan.operationContext.operation.name?.value ?? null,
  } as unknown as RequestContext;
  try {
    const result = await executeQueryPlan(
      eventPlan(plan),
      serviceMap,
      requestContext,
      plan.operationContext,
      planner.supergraphGraphQLSchema,
      planner.apiSchema,
    );
    const errors = result.errors && result.errors.length > 0 ? formatErrors(result.errors, execution.formatError) : undefined;
    return { data: (result.data ?? null) as Record<string, unknown> | null, ...(errors ? { errors } : {}) };
  } catch (error) {
    execution.logger.error({ err: error }, 'subscription event execution failed');
    return { data: null, errors: formatErrors([error], execution.formatError) };
  }
}

/** Errors received as JSON from a subgraph, as GraphQLErrors (their extensions kept for formatting). */
export function toGraphQLErrors(errors: readonly GraphQLFormattedError[]): GraphQLError[] {
  return errors.map(
    (e) =>
      new GraphQLError(e.message, {
        ...(e.path ? { path: e.path } : {}),
        ...(e.extensions ? { extensions: e.extensions } : {}),
      }),
  );
}
