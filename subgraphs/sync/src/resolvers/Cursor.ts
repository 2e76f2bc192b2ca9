import { ErrorCode } from '@taskgraph/runtime';
import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

const MAX = 9_223_372_036_854_775_807n;

function parse(value: unknown): bigint {
  if (typeof value === 'string' && /^\d{1,19}$/.test(value)) {
    const cursor = BigInt(value);
    if (cursor <= MAX) return cursor;
  }
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  throw new GraphQLError(`Cursor must be a non-negative integer string, got ${JSON.stringify(value)?.slice(0, 40)}`, {
    extensions: { code: ErrorCode.BAD_USER_INPUT },
  });
}

/** A log position (outbox seq, bigint): a decimal string on the wire, `bigint` in resolvers. */
export const Cursor = new GraphQLScalarType<bigint, string>({
  name: 'Cursor',
  serialize: (value) => String(value),
  parseValue: parse,
  parseLiteral: (ast) => (ast.kind === Kind.STRING || ast.kind === Kind.INT ? parse(ast.value) : parse(null)),
});
