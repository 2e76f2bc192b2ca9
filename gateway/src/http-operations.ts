import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { AppError, ErrorCode } from '@taskgraph/runtime';
import { GraphQLError, type ValidationRule } from 'graphql';

const MESSAGE = 'Subscriptions are served over WebSocket (graphql-ws protocol) at /graphql, not over HTTP';

/**
 * Subscriptions are served over graphql-ws on the same `/graphql` path (ARCHITECTURE §6); over plain
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

/**
 * A document with operations of which none is the one asked for (unknown `operationName`, or
 * several operations and no name) is the client's mistake. Apollo Server alone answers 400
 * OPERATION_RESOLUTION_FAILURE, but with a gateway it hands the request to @apollo/gateway, whose
 * executor throws and Apollo answers 500 INTERNAL_SERVER_ERROR. Refuse it once Apollo has resolved
 * the operation (`didResolveOperation`, before any planning or subgraph call) with a coded 400.
 */
export const operationResolutionPlugin: ApolloServerPlugin<BaseContext> = {
  async requestDidStart() {
    return {
      async didResolveOperation({ operation, request }) {
        if (operation) return;
        const message = request.operationName
          ? `Unknown operation named "${request.operationName}".`
          : 'Must provide operation name if query contains multiple operations.';
        throw new GraphQLError(message, {
          originalError: new AppError(ErrorCode.BAD_REQUEST, message),
          extensions: { code: ErrorCode.BAD_REQUEST, http: { status: 400 } },
        });
      },
    };
  },
};
