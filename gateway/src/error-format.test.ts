import { AppError, ErrorCode } from '@taskgraph/runtime';
import { GraphQLError } from 'graphql';
import { formatGatewayError, gatewayErrorFormatter } from './error-format.js';

/** What @apollo/gateway hands `formatError` for a subgraph's coded error: `serviceName` added. */
const downstream = () =>
  new GraphQLError('Title must not be empty', {
    path: ['createTask'],
    extensions: { code: ErrorCode.BAD_USER_INPUT, field: 'title', serviceName: 'tasks', query: 'mutation{…}', variables: { a: 1 } },
  });

describe('gatewayErrorFormatter', () => {
  it('keeps serviceName and the subgraph fetch outside production (debugging), strips stacks everywhere', () => {
    const error = downstream();
    const formatted = { ...error.toJSON(), extensions: { ...error.extensions, stacktrace: ['at x'] } };
    for (const env of ['development', 'test'] as const) {
      expect(gatewayErrorFormatter(env)(formatted, error).extensions).toEqual({
        code: 'BAD_USER_INPUT',
        field: 'title',
        serviceName: 'tasks',
        query: 'mutation{…}',
        variables: { a: 1 },
      });
    }
  });

  it('in production removes every internal name and detail, keeping the code and what the client acts on', () => {
    const error = downstream();
    const formatted = gatewayErrorFormatter('production')(error.toJSON(), error);
    expect(formatted).toEqual({
      message: 'Title must not be empty',
      path: ['createTask'],
      extensions: { code: 'BAD_USER_INPUT', field: 'title' },
    });
  });

  it('in production answers UNAVAILABLE without naming the subgraph (message or extensions)', () => {
    const error = new GraphQLError('Service "extras" is unavailable', {
      originalError: new AppError(ErrorCode.UNAVAILABLE, 'Service "extras" is unavailable', { service: 'extras' }),
    });
    expect(formatGatewayError(error.toJSON(), error)).toMatchObject({
      message: 'Service "extras" is unavailable',
      extensions: { service: 'extras' },
    });
    const formatted = gatewayErrorFormatter('production')(error.toJSON(), error);
    expect(formatted).toEqual({ message: 'Service temporarily unavailable; retry later', extensions: { code: 'UNAVAILABLE' } });
    expect(JSON.stringify(formatted)).not.toContain('extras');
  });

  it('keeps the resume hints of RESYNC_REQUIRED in production', () => {
    const error = new GraphQLError('Cursor is older than the retained window', {
      extensions: { code: ErrorCode.RESYNC_REQUIRED, oldestCursor: 'abc', serviceName: 'sync' },
    });
    expect(gatewayErrorFormatter('production')(error.toJSON(), error).extensions).toEqual({ code: 'RESYNC_REQUIRED', oldestCursor: 'abc' });
  });
});
