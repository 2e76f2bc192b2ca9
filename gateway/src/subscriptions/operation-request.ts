import type { ApolloServer } from '@apollo/server';
import { ErrorCode, type Logger } from '@taskgraph/runtime';
import {
  type DocumentNode,
  type ExecutionArgs,
  type FormattedExecutionResult,
  GraphQLError,
  getOperationAST,
  getVariableValues,
  type ValidationRule,
  validate,
} from 'graphql';
import type { SubscribePayload } from 'graphql-ws';
import type { GatewayContext } from '../subgraph-data-source.js';
import type { ConnectionState } from './connection-state.js';
import type { SubscriptionPlan, SubscriptionPlanner } from './planner.js';

/** What `onSubscribe` hands to graphql-ws' `subscribe`/`execute` through `contextValue`. */
export type OperationRequest =
  | {
      kind: 'subscription';
      state: ConnectionState;
      id: string;
      planner: SubscriptionPlanner;
      plan: SubscriptionPlan;
      /** Coerced against the operation's variable definitions (defaults applied). */
      variables: Record<string, unknown>;
    }
  | { kind: 'operation'; state: ConnectionState; payload: SubscribePayload };

export interface PrepareContext {
  /** The connection's state; absent before `connection_init` succeeded. */
  state: ConnectionState | undefined;
  planner: SubscriptionPlanner | undefined;
  /** `specifiedRules` plus the policies' rules. */
  rules: readonly ValidationRule[];
  /** The policies' `onSubscribe` hooks: errors refuse the operation. */
  admit(state: ConnectionState, id: string, payload: SubscribePayload): readonly GraphQLError[] | undefined;
  logger: Logger;
}

const refuse = (message: string, code: string = ErrorCode.BAD_USER_INPUT) => new GraphQLError(message, { extensions: { code } });

/**
 * graphql-ws `onSubscribe`: turns a `subscribe` message into execution arguments, or into the
 * errors of an `error` message. Subscriptions are validated (spec rules + the gateway's limits),
 * their variables coerced, and planned (cached); queries and mutations are left to Apollo Server.
 */
export function prepareOperation(context: PrepareContext, id: string, payload: SubscribePayload): ExecutionArgs | readonly GraphQLError[] {
  const { state, planner } = context;
  if (!state) return [refuse('Connection not initialised', ErrorCode.UNAUTHENTICATED)];
  const refused = context.admit(state, id, payload);
  if (refused && refused.length > 0) return refused;
  if (!planner) return [refuse('The gateway has no schema yet', ErrorCode.UNAVAILABLE)];
  let document: DocumentNode;
  try {
    // Shared by every subscription with the same text (graphql-ws keeps it as long as the subscription).
    document = planner.parse(payload.query);
  } catch (error) {
    return [error instanceof GraphQLError ? error : refuse('Invalid query')];
  }
  const operationName = payload.operationName ?? undefined;
  const operation = getOperationAST(document, operationName);
  if (!operation) return [refuse('Unable to identify the operation', 'GRAPHQL_VALIDATION_FAILED')];
  const schema = planner.apiGraphQLSchema;
  const base = { schema, document, ...(operationName ? { operationName } : {}) };
  if (operation.operation !== 'subscription') {
    // Apollo Server validates, plans and executes it like an HTTP request.
    const request: OperationRequest = { kind: 'operation', state, payload };
    return { ...base, variableValues: payload.variables ?? {}, contextValue: request };
  }
  const errors = validate(schema, document, context.rules);
  if (errors.length > 0) {
    // Same codes as Apollo Server over HTTP: GRAPHQL_VALIDATION_FAILED, or the limit's AppError code.
    return errors.map(
      (e) =>
        new GraphQLError(e.message, {
          nodes: e.nodes,
          ...(e.originalError ? { originalError: e.originalError } : {}),
          extensions: { code: 'GRAPHQL_VALIDATION_FAILED', ...e.extensions },
        }),
    );
  }
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], payload.variables ?? {});
  if (coerced.errors) {
    return coerced.errors.map((e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: ErrorCode.BAD_USER_INPUT } }));
  }
  let plan: SubscriptionPlan;
  try {
    plan = planner.plan(document, payload.query, operationName);
  } catch (error) {
    context.logger.error({ err: error }, 'subscription planning failed');
    return [new GraphQLError('Subscription planning failed', { originalError: error as Error })];
  }
  const request: OperationRequest = { kind: 'subscription', state, id, planner, plan, variables: coerced.coerced };
  return { ...base, variableValues: coerced.coerced, contextValue: request };
}

/** A query or mutation sent over the socket: executed by Apollo Server exactly like over HTTP. */
export async function executeOverSocket(
  apollo: ApolloServer<GatewayContext>,
  request: OperationRequest,
): Promise<FormattedExecutionResult> {
  if (request.kind !== 'operation') throw new Error('not a query or mutation');
  const { payload, state } = request;
  const response = await apollo.executeOperation(
    {
      query: payload.query,
      ...(payload.variables ? { variables: payload.variables } : {}),
      ...(payload.operationName ? { operationName: payload.operationName } : {}),
    },
    { contextValue: { userId: state.userId } },
  );
  if (response.body.kind === 'single') return response.body.singleResult;
  return {
    errors: [{ message: 'Incremental delivery (@defer/@stream) is not supported over WebSocket', extensions: { code: 'BAD_REQUEST' } }],
  };
}
