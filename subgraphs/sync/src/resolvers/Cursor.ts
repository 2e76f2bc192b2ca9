import { ErrorCode } from '@taskgraph/runtime';
import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';
import { CURSOR_PATTERN } from '../feed/cursor-codec.js';

function parse(value: unknown): string {
  if (typeof value === 'string' && CURSOR_PATTERN.test(value)) return value;
  throw new GraphQLError('Cursor is not valid: pass back a cursor this API gave you', { extensions: { code: ErrorCode.BAD_USER_INPUT } });
}

/**
 * An opaque, per-user change-feed position (feed/cursor-codec.ts): a string on the wire and in
 * resolvers, decoded with the caller's id where it is used. `serialize` fails closed: anything
 * but an encoded cursor (say, a raw log position) is an internal error, never sent.
 */
export const Cursor = new GraphQLScalarType<string, string>({
  name: 'Cursor',
  serialize: (value) => {
    if (typeof value === 'string' && CURSOR_PATTERN.test(value)) return value;
    throw new Error('Cursor: refusing to serialize an unencoded position');
  },
  parseValue: parse,
  parseLiteral: (ast) => parse(ast.kind === Kind.STRING ? ast.value : null),
});
