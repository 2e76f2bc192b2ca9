import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { ApolloServer, type ApolloServerPlugin, type BaseContext } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import { type DocumentNode, GraphQLError } from 'graphql';
import { AppError, ErrorCode, formatGraphQLError } from './errors.js';
import { type Caller, INTERNAL_TOKEN_HEADER, verifyInternalToken } from './internal-token.js';
import type { Logger } from './logger.js';

export type { GraphQLResolverMap };

/** Builds an Apollo subgraph server with the central error mapping (CONVENTIONS §4). */
export function createSubgraphServer<TContext extends BaseContext>(
  typeDefs: DocumentNode,
  // biome-ignore lint/suspicious/noExplicitAny: resolver maps are checked per subgraph
  resolvers: GraphQLResolverMap<any>,
  logger?: Logger,
): ApolloServer<TContext> {
  return new ApolloServer<TContext>({
    // Inline tracing is for Apollo's hosted studio; the gateway here does not use it. Cache-control
    // hints are unused too (no schema declares any, nothing caches on them), and the default plugin
    // wraps every field resolver (`willResolveField`): 8% of a subgraph's CPU on a TaskBoard page.
    plugins: [
      ApolloServerPluginInlineTraceDisabled(),
      ApolloServerPluginCacheControlDisabled(),
      ...(logger ? [logInternalErrors(logger)] : []),
    ],
    schema: buildSubgraphSchema({ typeDefs, resolvers }),
    formatError: formatGraphQLError,
    includeStacktraceInErrorResponses: false,
    csrfPrevention: false,
    introspection: true,
    // Shutdown is the service's (`closeOnSignals`: HTTP, bus, then Apollo). Apollo's own handler would
    // stop the server first and re-send the signal, which closeOnSignals takes for a second one: exit 1.
    stopOnTerminationSignals: false,
  });
}

/** Logs errors that are not domain errors: they reach clients masked, so the log is where they show. */
export function logInternalErrors(logger: Logger): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, operationName }) {
          for (const error of errors) {
            const original = error.originalError;
            if (original && !(original instanceof AppError) && !(original instanceof GraphQLError)) {
              logger.error({ err: original, path: error.path, operationName }, 'resolver failed');
            }
          }
        },
      };
    },
  };
}

/**
 * Authenticates a subgraph request: only the gateway's internal token is accepted, so the
 * subgraph cannot be called around the gateway (ARCHITECTURE §7).
 */
export async function callerFromRequest(req: IncomingMessage, secret: string): Promise<Caller> {
  const header = req.headers[INTERNAL_TOKEN_HEADER];
  const token = Array.isArray(header) ? header[0] : header;
  try {
    return await verifyInternalToken(token, secret);
  } catch (error) {
    throw new GraphQLError((error as Error).message, {
      extensions: { code: ErrorCode.UNAUTHENTICATED, http: { status: 401 } },
    });
  }
}

/**
 * Reads a subgraph's `schema.graphql` beside its source: `src/` when run from source (tests),
 * or `../src/` when run from `dist/` (tsc does not copy .graphql files).
 */
export function readSchemaFile(moduleUrl: string, name = 'schema.graphql'): string {
  for (const candidate of [`./${name}`, `../src/${name}`]) {
    try {
      return readFileSync(new URL(candidate, moduleUrl), 'utf8');
    } catch {
      // try the next location
    }
  }
  throw new Error(`${name} not found next to ${moduleUrl}`);
}
