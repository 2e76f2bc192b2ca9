import { GraphQLError, type GraphQLFormattedError } from 'graphql';

/** The one registry of error codes clients can rely on (ARCHITECTURE §6). */
export const ErrorCode = {
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  /** The request is not one this endpoint serves (e.g. a subscription over HTTP). */
  BAD_REQUEST: 'BAD_REQUEST',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  RESYNC_REQUIRED: 'RESYNC_REQUIRED',
  /** The operation's estimated cost is over the gateway's budget; nothing ran (`estimatedCost`, `maxCost`). */
  COST_LIMIT_EXCEEDED: 'COST_LIMIT_EXCEEDED',
  /** A per-user rate or concurrency limit refused the operation; retry after `retryAfterMs`. */
  RATE_LIMITED: 'RATE_LIMITED',
  UNAVAILABLE: 'UNAVAILABLE',
  /** A service behind the gateway did not answer within its bound; other parts of the result may still be there. */
  UPSTREAM_TIMEOUT: 'UPSTREAM_TIMEOUT',
  /** A WebSocket client stopped reading its subscriptions: they end, the socket closes 1013. */
  SLOW_CONSUMER: 'SLOW_CONSUMER',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
  /** Trusted documents: the persisted-query hash is not registered (send the text, where allowed). */
  PERSISTED_QUERY_NOT_FOUND: 'PERSISTED_QUERY_NOT_FOUND',
  /** Trusted documents (enforce mode): the operation is not in the registered list. */
  PERSISTED_QUERY_NOT_IN_LIST: 'PERSISTED_QUERY_NOT_IN_LIST',
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

/** errno / SQLSTATE of a database (or peer) that is down or restarting: not the request's fault, retryable. */
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', '57P01', '57P02', '57P03']);
const UNAVAILABLE_MESSAGE =
  /Connection terminated|Connection ended unexpectedly|connection error and is not queryable|Timeout acquiring a connection|terminating connection due to administrator command|the database system is (starting up|shutting down|in recovery mode)|Transaction query already complete/i;

/**
 * True for infrastructure failures (Postgres stopped or restarting, connection refused or cut,
 * pool exhausted): clients get UNAVAILABLE (retry later) instead of a masked internal error.
 * Duck-typed (errors from `net` or `pg` may come from another realm, or be wrapped by graphql-js as
 * `NonErrorThrown` with `thrownValue`); follows `cause`. SQLSTATE class 08 is "connection exception";
 * knex reports the next statement of a transaction whose connection died as "Transaction query
 * already complete".
 */
export function isUnavailableError(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; typeof current === 'object' && current !== null && depth < 5; depth++) {
    const { code, message, cause, thrownValue } = current as { code?: unknown; message?: unknown; cause?: unknown; thrownValue?: unknown };
    if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
    if (typeof message === 'string' && UNAVAILABLE_MESSAGE.test(message)) return true;
    current = cause ?? thrownValue;
  }
  return false;
}

const unavailable = () => ({ message: 'Service temporarily unavailable; retry later', extensions: { code: ErrorCode.UNAVAILABLE } });

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
  if (isUnavailableError(error)) {
    const { message, extensions } = unavailable();
    return new GraphQLError(message, { extensions });
  }
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
 * no stack, SQL or message from inside ever reaches a client (CONVENTIONS §4).
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
  if (isUnavailableError(original)) return { ...unavailable(), locations: formatted.locations, path: formatted.path };
  return {
    message: 'Internal server error',
    locations: formatted.locations,
    path: formatted.path,
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
  };
}
