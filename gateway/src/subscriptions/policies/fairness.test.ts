import type { Duplex } from 'node:stream';
import { buildSchema } from 'graphql';
import type { WebSocket } from 'ws';
import type { CostModel } from '../../protection/cost-model.js';
import { UserLimiter } from '../../protection/user-limiter.js';
import { ClientStream } from '../client-stream.js';
import { ConnectionState } from '../connection-state.js';
import { fairnessPolicy } from './fairness.js';

const schema = buildSchema(`
  type Query { x: Int }
  type Item { id: ID! children(first: Int = 10): [Item!]! }
  type Subscription { item: Item! }
`);
const model: CostModel = { defaultListSize: 100, mutationCost: 10, fields: { 'Item.children': { slicingArguments: ['first'] } } };
const limits = { ratePerSecond: 1, burst: 3, maxInFlight: 1, maxSubscriptions: 1, concurrencyRetryAfterMs: 250 };
const noHooks = { onOverflow: () => {}, onDetach: () => {} };
const output = { raw: {} as Duplex, limits: { maxBufferedMessages: 1, maxBufferedBytes: 1_000 } };
const connection = (userId: string) => new ConnectionState(userId, {} as WebSocket, undefined, output);
const codes = (errors: readonly { extensions: Record<string, unknown> }[] | undefined) =>
  errors?.map((e) => [e.extensions.code, e.extensions.limit ?? e.extensions.maxCost]);

function setup() {
  const limiter = new UserLimiter(limits);
  const policy = fairnessPolicy({ limiter, schema: () => schema, model, maxEventCost: 50 });
  return { limiter, policy };
}

describe('fairnessPolicy', () => {
  it('takes a token for every subscribe message (queries too) and refuses past the burst with RATE_LIMITED', () => {
    const { policy } = setup();
    const alice = connection('alice');
    const query = { query: '{ x }' };
    expect([
      policy.onSubscribe?.(alice, '1', query),
      policy.onSubscribe?.(alice, '2', query),
      policy.onSubscribe?.(alice, '3', query),
    ]).toEqual([undefined, undefined, undefined]);
    expect(codes(policy.onSubscribe?.(alice, '4', query))).toEqual([['RATE_LIMITED', 'rate']]);
    expect(policy.onSubscribe?.(connection('bob'), '1', query)).toBeUndefined();
  });

  it('costs one event of a subscription with its variables and refuses it over the budget', () => {
    const { policy } = setup();
    const query = 'subscription($n: Int) { item { id children(first: $n) { id } } }';
    // 1 + n × 1: n = 40 fits the budget of 50, n = 60 does not.
    expect(policy.onSubscribe?.(connection('a'), '1', { query, variables: { n: 40 } })).toBeUndefined();
    expect(codes(policy.onSubscribe?.(connection('b'), '1', { query, variables: { n: 60 } }))).toEqual([['COST_LIMIT_EXCEEDED', 50]]);
  });

  it("counts a user's open streams over all connections, refuses past the cap, frees a slot on complete and on close", () => {
    const { limiter, policy } = setup();
    const [a, b] = [connection('carol'), connection('carol')];
    const subscribe = { query: 'subscription { item { id } }' };
    expect(policy.onSubscribe?.(a, '1', subscribe)).toBeUndefined();
    policy.onStream?.(a, '1', new ClientStream('1', a, noHooks));
    expect(limiter.activeSubscriptions('carol')).toBe(1);
    expect(codes(policy.onSubscribe?.(b, '1', subscribe))).toEqual([['RATE_LIMITED', 'subscriptions']]);

    // A race past the check (two connections at once): the second stream is ended, coded.
    const raced = new ClientStream('2', b, noHooks);
    policy.onStream?.(b, '2', raced);
    expect(raced.closed).toBe(true);
    expect(limiter.activeSubscriptions('carol')).toBe(1);

    policy.onComplete?.(a, '1');
    expect(limiter.activeSubscriptions('carol')).toBe(0);
    policy.onStream?.(b, '3', new ClientStream('3', b, noHooks));
    expect(limiter.activeSubscriptions('carol')).toBe(1);
    policy.onClose?.(b);
    expect(limiter.activeSubscriptions('carol')).toBe(0);
  });
});
