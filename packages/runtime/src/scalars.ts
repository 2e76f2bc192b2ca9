import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';
import { ErrorCode } from './errors.js';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

function parse(value: unknown): Date {
  if (typeof value === 'string' && ISO.test(value)) {
    const date = new Date(value);
    const year = date.getUTCFullYear();
    if (!Number.isNaN(date.getTime()) && year >= 1970 && year <= 9999) return date;
  }
  throw new GraphQLError(
    `DateTime must be an ISO-8601 date-time with offset between 1970 and 9999, got ${JSON.stringify(value)?.slice(0, 64)}`,
    {
      extensions: { code: ErrorCode.BAD_USER_INPUT },
    },
  );
}

/**
 * The `DateTime` scalar every subgraph declares: input is an ISO-8601 date-time with an explicit offset,
 * in the years 1970–9999 (anything else is `BAD_USER_INPUT`); output is serialised in UTC.
 */
export const DateTime = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  serialize: (value) => (value instanceof Date ? value : new Date(value as string)).toISOString(),
  parseValue: parse,
  parseLiteral: (ast) => (ast.kind === Kind.STRING ? parse(ast.value) : parse(null)),
});
