import { GraphQLError } from 'graphql';
import { AppError, ErrorCode, formatGraphQLError, isUnavailableError } from './errors.js';

const formatted = { message: 'boom', path: ['createTask'] };

describe('formatGraphQLError', () => {
  it('reports a database that is down or restarting as UNAVAILABLE, without internals', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const shutdown = Object.assign(new Error('insert into t values (1) - terminating connection due to administrator command'), {
      code: '57P01',
    });
    const cut = new Error('select 1 - Client has encountered a connection error and is not queryable');
    const deadTransaction = new Error('Transaction query already complete, run with DEBUG=knex:tx for more info');
    // graphql-js wraps values that are not `instanceof Error` (e.g. from another realm) this way.
    const wrapped = { name: 'NonErrorThrown', message: 'Unexpected error value', thrownValue: { code: 'ECONNREFUSED' } };
    for (const cause of [refused, shutdown, cut, deadTransaction, wrapped, { code: '08006', message: 'connection failure' }]) {
      expect(isUnavailableError(cause)).toBe(true);
      const error = new GraphQLError('boom', { originalError: cause as Error });
      expect(formatGraphQLError(formatted, error)).toEqual({
        message: 'Service temporarily unavailable; retry later',
        path: ['createTask'],
        locations: undefined,
        extensions: { code: ErrorCode.UNAVAILABLE },
      });
    }
  });

  it('still masks other internal errors and keeps domain codes', () => {
    expect(isUnavailableError(new Error('duplicate key value violates unique constraint'))).toBe(false);
    const internal = formatGraphQLError(formatted, new GraphQLError('boom', { originalError: new TypeError('x is undefined') }));
    expect(internal).toMatchObject({ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    const domain = formatGraphQLError(
      formatted,
      new GraphQLError('boom', { originalError: new AppError(ErrorCode.NOT_FOUND, 'Task 1 not found') }),
    );
    expect(domain).toMatchObject({ message: 'Task 1 not found', extensions: { code: 'NOT_FOUND' } });
  });
});
