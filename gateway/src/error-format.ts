import { ErrorCode, formatGraphQLError } from '@taskgraph/runtime';
import type { GraphQLFormattedError } from 'graphql';

/** Apollo Server / graphql-ws `formatError`. */
export type GatewayErrorFormatter = (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;

/** Extensions that may carry internals in every environment (subgraph URLs, response bodies, stacks). */
const LEAKY_EXTENSIONS = ['response', 'exception', 'stacktrace'];

/**
 * Extensions that name the system's inside (which subgraph served a field, the subgraph fetch's query
 * and variables): useful while developing, removed in production (issue 14 "hygiene"). Everything a
 * client may act on (`code`, `oldestCursor`, `reason`, `field`, limits' figures…) stays.
 */
const INTERNAL_EXTENSIONS = ['serviceName', 'service', 'subgraph', 'url', 'query', 'variables'];

/** UNAVAILABLE and UPSTREAM_TIMEOUT messages name the subgraph that failed; in production the client gets these instead. */
const GENERIC_MESSAGES: Partial<Record<string, string>> = {
  [ErrorCode.UNAVAILABLE]: 'Service temporarily unavailable; retry later',
  [ErrorCode.UPSTREAM_TIMEOUT]: 'A service did not answer in time; retry later',
};

/** `formatGraphQLError` (codes kept, internals masked) plus the gateway's downstream extensions stripped. */
export function formatGatewayError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  return without(formatGraphQLError(formatted, error), LEAKY_EXTENSIONS);
}

/** `formatGatewayError`, and in production no subgraph name or internal detail (ARCHITECTURE §6 errors). */
export function gatewayErrorFormatter(nodeEnv: 'development' | 'test' | 'production'): GatewayErrorFormatter {
  if (nodeEnv !== 'production') return formatGatewayError;
  return (formatted, error) => {
    const result = without(formatGatewayError(formatted, error), INTERNAL_EXTENSIONS);
    const generic = GENERIC_MESSAGES[String(result.extensions?.code)];
    return generic ? { ...result, message: generic } : result;
  };
}

function without(result: GraphQLFormattedError, keys: readonly string[]): GraphQLFormattedError {
  if (!result.extensions || !keys.some((key) => key in result.extensions!)) return result;
  const extensions = Object.fromEntries(Object.entries(result.extensions).filter(([key]) => !keys.includes(key)));
  return { ...result, extensions };
}
