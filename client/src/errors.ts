import type { GraphQLFormattedError } from 'graphql';

/**
 * Codes the client itself assigns when the server gave none: the request never got a GraphQL
 * answer (network down, non-JSON body) or the WebSocket closed for good.
 */
export const ClientErrorCode = {
  NETWORK_ERROR: 'NETWORK_ERROR',
  BAD_RESPONSE: 'BAD_RESPONSE',
  CONNECTION_CLOSED: 'CONNECTION_CLOSED',
} as const;

/**
 * Every failure of a `TaskgraphClient` call. `code` is the first error's `extensions.code` from the
 * gateway's registry (BAD_USER_INPUT, UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, CONFLICT,
 * RESYNC_REQUIRED, …) or a `ClientErrorCode`.
 */
export class TaskgraphError<TData = unknown> extends Error {
  override readonly name = 'TaskgraphError';
  /** `extensions.code` of the first error (or a `ClientErrorCode`). */
  readonly code: string;
  /** Every GraphQL error of the response, as the gateway formatted them. */
  readonly errors: readonly GraphQLFormattedError[];
  /** HTTP status (HTTP calls only). */
  readonly status: number | undefined;
  /** Partial data that came with the errors, if any. */
  readonly data: TData | null | undefined;

  constructor(
    errors: readonly GraphQLFormattedError[],
    details: { status?: number | undefined; data?: TData | null | undefined; code?: string; cause?: unknown } = {},
  ) {
    const first = errors[0];
    super(first?.message ?? 'GraphQL request failed', details.cause === undefined ? undefined : { cause: details.cause });
    this.errors = errors;
    this.code = details.code ?? codeOf(first) ?? 'INTERNAL_SERVER_ERROR';
    this.status = details.status;
    this.data = details.data;
  }

  /** Every distinct `extensions.code` of the response. */
  get codes(): string[] {
    return [...new Set(this.errors.map(codeOf).filter((c): c is string => c !== undefined))];
  }
}

const codeOf = (error: GraphQLFormattedError | undefined): string | undefined => {
  const code = error?.extensions?.code;
  return typeof code === 'string' ? code : undefined;
};

/** A client-side failure (no GraphQL errors from the server) as a `TaskgraphError`. */
export function clientError(code: string, message: string, details: { status?: number; cause?: unknown } = {}): TaskgraphError {
  return new TaskgraphError([{ message, extensions: { code } }], { ...details, code });
}
