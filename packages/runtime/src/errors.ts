import { GraphQLError, type GraphQLFormattedError } from 'graphql';

/** The one registry of error codes clients can rely on (DESIGN §6). */
export const ErrorCode = {
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  RESYNC_REQUIRED: 'RESYNC_REQUIRED',
  UNAVAILABLE: 'UNAVAILABLE',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** A domain error: safe to show to the caller, mapped to a GraphQLError with `extensions.code`. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const badInput = (message: string, field?: string) => new AppError(ErrorCode.BAD_USER_INPUT, message, field ? { field } : {});
export const notFound = (what: string, id: string) => new AppError(ErrorCode.NOT_FOUND, `${what} ${id} not found`, { id });
export const unauthenticated = (message = 'Authentication required') => new AppError(ErrorCode.UNAUTHENTICATED, message);

/** Converts any thrown value to a GraphQLError with a registry code. */
export function toGraphQLError(error: unknown): GraphQLError {
  if (error instanceof GraphQLError) {
    const original = error.originalError;
    if (original instanceof AppError) {
      return new GraphQLError(original.message, {
        nodes: error.nodes,
        path: error.path,
        extensions: { ...original.details, code: original.code },
      });
    }
    return error;
  }
  if (error instanceof AppError) return new GraphQLError(error.message, { extensions: { ...error.details, code: error.code } });
  return new GraphQLError('Internal server error', { extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } });
}

const knownCodes = new Set<string>(Object.values(ErrorCode));
const apolloInputCodes = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'OPERATION_RESOLUTION_FAILURE',
]);

/**
 * Apollo Server `formatError`: domain errors keep their code; unknown internals are masked so
 * no stack, SQL or message from inside ever reaches a client (STYLE §4).
 */
export function formatGraphQLError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = error instanceof GraphQLError ? error.originalError : error;
  if (original instanceof AppError) {
    return { ...formatted, message: original.message, extensions: { ...original.details, code: original.code } };
  }
  const code = formatted.extensions?.code;
  if (typeof code === 'string' && (knownCodes.has(code) || apolloInputCodes.has(code))) {
    const { stacktrace: _s, ...extensions } = formatted.extensions ?? {};
    if (code !== ErrorCode.INTERNAL_SERVER_ERROR) return { ...formatted, extensions };
  }
  return {
    message: 'Internal server error',
    locations: formatted.locations,
    path: formatted.path,
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
  };
}
