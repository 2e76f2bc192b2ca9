import { GraphQLError, Kind } from 'graphql';
import { ErrorCode } from './errors.js';
import { DateTime } from './scalars.js';

describe('DateTime', () => {
  it('parses ISO-8601 date-times with an offset and serialises them in UTC', () => {
    expect(DateTime.parseValue('2026-03-01T10:00:00+02:00')).toEqual(new Date('2026-03-01T08:00:00Z'));
    expect(DateTime.parseLiteral({ kind: Kind.STRING, value: '1970-01-01T00:00Z' })).toEqual(new Date(0));
    expect(DateTime.serialize(new Date('2026-03-01T08:00:00+01:00'))).toBe('2026-03-01T07:00:00.000Z');
  });

  it.each(['2026-03-01', '2026-03-01T10:00:00', '1969-12-31T23:59:59Z', 'not a date', 42, null])(
    'rejects %p as BAD_USER_INPUT',
    (value) => {
      expect.assertions(2);
      try {
        DateTime.parseValue(value);
      } catch (error) {
        expect(error).toBeInstanceOf(GraphQLError);
        expect((error as GraphQLError).extensions.code).toBe(ErrorCode.BAD_USER_INPUT);
      }
    },
  );
});
