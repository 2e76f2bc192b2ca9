import { ApolloServer, HeaderMap } from '@apollo/server';
import { formatGraphQLError } from '@taskgraph/runtime';
import { buildSchema, parse, validate } from 'graphql';
import { noSubscriptionsOverHttpRule, operationResolutionPlugin } from './http-operations.js';

const schema = buildSchema('type Query { a: Int } type Subscription { b: Int }');

it('refuses subscriptions over HTTP with a coded error and lets queries through', () => {
  const errors = validate(schema, parse('subscription { b }'), [noSubscriptionsOverHttpRule]);
  expect(errors.map((e) => [e.extensions.code, e.message])).toEqual([
    ['BAD_REQUEST', 'Subscriptions are served over WebSocket (graphql-ws protocol) at /graphql, not over HTTP'],
  ]);
  expect(validate(schema, parse('{ a }'), [noSubscriptionsOverHttpRule])).toEqual([]);
});

it('answers an operationName that names no operation of the document with 400 BAD_REQUEST', async () => {
  const server = new ApolloServer({
    typeDefs: 'type Query { a: Int }',
    resolvers: { Query: { a: () => 1 } },
    plugins: [operationResolutionPlugin],
    formatError: formatGraphQLError,
  });
  await server.start();
  try {
    const post = async (body: unknown) => {
      const response = await server.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method: 'POST', headers: new HeaderMap([['content-type', 'application/json']]), search: '', body },
        context: async () => ({}),
      });
      const text = response.body.kind === 'complete' ? response.body.string : '';
      return [response.status ?? 200, JSON.parse(text)] as const;
    };
    expect(await post({ query: 'query A { a }', operationName: 'B' })).toEqual([
      400,
      { errors: [{ message: 'Unknown operation named "B".', extensions: { code: 'BAD_REQUEST' } }] },
    ]);
    const [status, body] = await post({ query: 'query A { a } query B { a }' });
    expect([status, body.errors[0].extensions.code]).toEqual([400, 'BAD_REQUEST']);
    expect(await post({ query: 'query A { a } query B { a }', operationName: 'B' })).toEqual([200, { data: { a: 1 } }]);
  } finally {
    await server.stop();
  }
});
