import type { Duplex } from 'node:stream';
import { buildSchema, parse, specifiedRules, validate } from 'graphql';
import type { WebSocket } from 'ws';
import { queryLimitsRule } from '../../limits.js';
import { ClientStream } from '../client-stream.js';
import { ConnectionState } from '../connection-state.js';
import { subscriptionLimitsPolicy } from './limits.js';

const noHooks = { onOverflow: () => {}, onDetach: () => {} };
const payload = { query: 'subscription { x }' };

describe('subscriptionLimitsPolicy', () => {
  it('refuses a subscription beyond the per-connection maximum with RATE_LIMITED', () => {
    const policy = subscriptionLimitsPolicy({ maxSubscriptionsPerConnection: 2 });
    const connection = new ConnectionState('alice', {} as WebSocket, undefined, {
      raw: {} as Duplex,
      limits: { maxBufferedMessages: 1, maxBufferedBytes: 1 },
    });
    expect(policy.onSubscribe?.(connection, '1', payload)).toBeUndefined();
    connection.streams.set('1', new ClientStream('1', connection, noHooks));
    expect(policy.onSubscribe?.(connection, '2', payload)).toBeUndefined();
    connection.streams.set('2', new ClientStream('2', connection, noHooks));
    const refused = policy.onSubscribe?.(connection, '3', payload);
    expect(refused?.map((e) => [e.message, e.extensions.code, e.extensions.retryAfterMs])).toEqual([
      ['At most 2 subscriptions per connection', 'RATE_LIMITED', 1_000],
    ]);
    connection.streams.delete('1');
    expect(policy.onSubscribe?.(connection, '3', payload)).toBeUndefined();
  });

  it("applies the gateway's query limits to subscription documents", () => {
    const rules = [queryLimitsRule({ maxDepth: 2, maxAliases: 30, maxFields: 500, maxBodyBytes: 1_000 })];
    const policy = subscriptionLimitsPolicy({ maxSubscriptionsPerConnection: 1, validationRules: rules });
    const schema = buildSchema('type Query { a: A } type Subscription { a: A } type A { b: B } type B { c: Int }');
    const all = [...specifiedRules, ...(policy.validationRules ?? [])];
    expect(validate(schema, parse('subscription { a { b } }'), all).map((e) => e.message)).toEqual([
      'Field "b" of type "B" must have a selection of subfields. Did you mean "b { ... }"?',
    ]);
    const errors = validate(schema, parse('subscription { a { b { c } } }'), all);
    expect(errors.map((e) => e.message)).toEqual(['Operation (anonymous) is nested 3 levels deep; the limit is 2']);
  });
});
