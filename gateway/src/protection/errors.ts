import { AppError, ErrorCode } from '@taskgraph/runtime';
import { GraphQLError } from 'graphql';
import type { Refusal } from './user-limiter.js';

/** Seconds for an HTTP `Retry-After` header (whole seconds, at least 1). */
export const retryAfterSeconds = (ms: number): string => String(Math.max(1, Math.ceil(ms / 1000)));

/**
 * COST_LIMIT_EXCEEDED (HTTP 400): the operation's estimated cost is over the budget; nothing ran.
 * `extensions`: `{ code, estimatedCost, maxCost }`.
 */
export function costLimitError(estimatedCost: number, maxCost: number, what = 'Operation'): GraphQLError {
  const shown = Number.isFinite(estimatedCost) ? Math.round(estimatedCost) : Number.MAX_SAFE_INTEGER;
  const message = `${what} cost ${shown} exceeds the budget of ${maxCost}: ask for fewer items (first/last) or fewer nested lists`;
  const details = { estimatedCost: shown, maxCost };
  return new GraphQLError(message, {
    originalError: new AppError(ErrorCode.COST_LIMIT_EXCEEDED, message, details),
    extensions: { code: ErrorCode.COST_LIMIT_EXCEEDED, ...details, http: { status: 400 } },
  });
}

const MESSAGES: Record<Refusal['limit'], (max: number) => string> = {
  rate: (max) => `Too many operations: at most ${max} per second per user`,
  inFlight: (max) => `Too many operations running: at most ${max} at once per user`,
  subscriptions: (max) => `Too many subscriptions: at most ${max} active per user`,
};

/**
 * RATE_LIMITED (HTTP 429 with `Retry-After`): a per-user limit refused the operation; nothing ran.
 * `extensions`: `{ code, limit: 'rate' | 'inFlight' | 'subscriptions' | 'connectionSubscriptions', max, retryAfterMs }`.
 */
export function rateLimitedError(refusal: { limit: string; max: number; retryAfterMs: number }, message?: string): GraphQLError {
  const text = message ?? MESSAGES[refusal.limit as Refusal['limit']]?.(refusal.max) ?? 'Too many operations';
  const details = { limit: refusal.limit, max: refusal.max, retryAfterMs: refusal.retryAfterMs };
  return new GraphQLError(text, {
    originalError: new AppError(ErrorCode.RATE_LIMITED, text, details),
    extensions: {
      code: ErrorCode.RATE_LIMITED,
      ...details,
      http: { status: 429, headers: new Map([['retry-after', retryAfterSeconds(refusal.retryAfterMs)]]) },
    },
  });
}
