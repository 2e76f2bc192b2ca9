import { AppError, ErrorCode } from '@taskgraph/runtime';
import { GraphQLError, type ValidationRule } from 'graphql';

const MESSAGE = 'Subscriptions are served over WebSocket (graphql-ws protocol) at /graphql, not over HTTP';

/**
 * Subscriptions are served over graphql-ws on the same `/graphql` path (DESIGN §6); over plain
 * HTTP they would reach @apollo/gateway, which cannot execute them. Refuse them up front with a
 * clear, coded error instead.
 */
export const noSubscriptionsOverHttpRule: ValidationRule = (context) => ({
  OperationDefinition(node) {
    if (node.operation === 'subscription') {
      context.reportError(
        new GraphQLError(MESSAGE, {
          nodes: [node],
          // Apollo Server recodes validation errors as GRAPHQL_VALIDATION_FAILED; the AppError keeps ours.
          originalError: new AppError(ErrorCode.BAD_REQUEST, MESSAGE),
          extensions: { code: ErrorCode.BAD_REQUEST },
        }),
      );
    }
  },
});
