import { buildSchema, parse, validate } from 'graphql';
import { noSubscriptionsOverHttpRule } from './http-operations.js';

const schema = buildSchema('type Query { a: Int } type Subscription { b: Int }');

it('refuses subscriptions over HTTP with a coded error and lets queries through', () => {
  const errors = validate(schema, parse('subscription { b }'), [noSubscriptionsOverHttpRule]);
  expect(errors.map((e) => [e.extensions.code, e.message])).toEqual([
    ['BAD_REQUEST', 'Subscriptions are served over WebSocket (graphql-ws protocol) at /graphql, not over HTTP'],
  ]);
  expect(validate(schema, parse('{ a }'), [noSubscriptionsOverHttpRule])).toEqual([]);
});
