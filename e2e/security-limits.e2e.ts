/**
 * Security: per-user fairness (issue 14) over HTTP and WebSocket through the real gateway. A user
 * over the token bucket, the in-flight cap or the subscription caps is refused with RATE_LIMITED
 * (`limit`, `max`, `retryAfterMs`; over HTTP status 429 and `Retry-After`), nothing runs for the
 * refused operation, other users are unaffected, and the user recovers after the hinted wait.
 */
import { randomBytes } from 'node:crypto';
import { type RunningSystem, startSystem } from '@taskgraph/testing';
import type { Client } from 'graphql-ws';
import { collect, wsClient, wsOnce } from './support/attack.js';
import { waitFor } from './support/cluster.js';
import { Figures } from './support/figures.js';

const LIMITS = { ratePerSecond: 10, burst: 10, maxInFlight: 2, maxSubscriptions: 3, concurrencyRetryAfterMs: 200 };
const PER_CONNECTION = 2;
const LIGHT = '{ tasks(first: 1) { edges { node { id } } } }';
const SUBSCRIPTION = 'subscription { taskUpdates { cursor op taskId } }';

const figures = new Figures('security-limits');
const nonce = randomBytes(4).toString('hex');
const user = (name: string) => `${name}-${nonce}`;
let system: RunningSystem;
const clients: Client[] = [];

type ErrorBody = { message: string; extensions?: Record<string, unknown> };
type Reply = { status: number; retryAfter: string | null; errors?: ErrorBody[]; data?: unknown };

async function post(as: string, query: string): Promise<Reply> {
  const res = await fetch(system.gatewayUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${await system.tokenFor(as)}` },
    body: JSON.stringify({ query }),
  });
  const body = (await res.json()) as { errors?: ErrorBody[]; data?: unknown };
  return { status: res.status, retryAfter: res.headers.get('retry-after'), ...body };
}

async function socket(as: string): Promise<Client> {
  const { client } = wsClient(system.gatewayUrl, { authorization: `Bearer ${await system.tokenFor(as)}` });
  clients.push(client);
  return client;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The graphql-ws `error` payload of a refused operation (`wsOnce` / `collect` settle with `{ error }`). */
const wsErrors = (outcome: unknown): ErrorBody[] => ((outcome as { error?: ErrorBody[] }).error ?? []) as ErrorBody[];

beforeAll(async () => {
  system = await startSystem({ gateway: { protection: LIMITS, subscriptions: { maxSubscriptionsPerConnection: PER_CONNECTION } } });
}, 60_000);

afterAll(async () => {
  figures.report();
  for (const client of clients) await client.dispose();
  await system?.close();
});

describe('HTTP', () => {
  it('refuses a user over the token bucket with 429 RATE_LIMITED + Retry-After, others unaffected, and recovers after retryAfterMs', async () => {
    const alice = user('alice');
    let admitted = 0;
    let refused: Reply | undefined;
    for (let i = 0; i < 60 && !refused; i++) {
      const reply = await post(alice, LIGHT);
      figures.add('attempts');
      if (reply.errors) refused = reply;
      else admitted++;
    }
    if (!refused) throw new Error('never rate limited');
    // The burst, plus what refilled (10/s) while those requests ran.
    expect(admitted).toBeGreaterThanOrEqual(LIMITS.burst);
    expect(refused.status).toBe(429);
    expect(refused.retryAfter).toBe('1');
    expect(refused.data).toBeUndefined();
    const extensions = refused.errors![0]!.extensions!;
    expect(extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'rate', max: LIMITS.ratePerSecond });
    expect(extensions.retryAfterMs).toBeGreaterThan(0);
    expect(extensions.retryAfterMs).toBeLessThanOrEqual(1000 / LIMITS.ratePerSecond);
    figures.add('refusals');

    // Another user is not affected.
    expect((await post(user('bob'), LIGHT)).errors).toBeUndefined();
    // Recovery after the hinted wait.
    await sleep(Number(extensions.retryAfterMs) + 5);
    const after = await post(alice, LIGHT);
    expect(after.status).toBe(200);
    expect(after.errors).toBeUndefined();
  });

  it('caps operations in flight per user (RATE_LIMITED limit inFlight), then admits again once they finished', async () => {
    const carol = user('carol');
    const query = '{ tasks(first: 100) { edges { node { id history(first: 5) { edges { node { id } } } } } } }';
    const replies = await Promise.all(Array.from({ length: 8 }, () => post(carol, query)));
    const ok = replies.filter((r) => !r.errors);
    const refused = replies.filter((r) => r.errors);
    figures.add('attempts', replies.length);
    figures.add('refusals', refused.length);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const reply of refused) {
      expect(reply.status).toBe(429);
      expect(reply.retryAfter).toBe('1');
      expect(reply.errors![0]!.extensions).toMatchObject({
        code: 'RATE_LIMITED',
        limit: 'inFlight',
        max: LIMITS.maxInFlight,
        retryAfterMs: LIMITS.concurrencyRetryAfterMs,
      });
    }
    // Two at a time are always admitted (the slots were released when the responses were sent).
    await sleep(LIMITS.concurrencyRetryAfterMs);
    const again = await Promise.all([post(carol, LIGHT), post(carol, LIGHT)]);
    expect(again.map((r) => r.errors)).toEqual([undefined, undefined]);
  });
});

describe('WebSocket', () => {
  it('takes a token per subscribe message: a query over the socket is refused RATE_LIMITED, then recovers', async () => {
    const dave = user('dave');
    const client = await socket(dave);
    let refusal: ErrorBody | undefined;
    let admitted = 0;
    for (let i = 0; i < 60 && !refusal; i++) {
      const outcome = await wsOnce(client, LIGHT);
      figures.add('attempts');
      const errors = Array.isArray(outcome) ? ((outcome[0] as { errors?: ErrorBody[] }).errors ?? []) : wsErrors(outcome);
      if (errors.length > 0) refusal = errors[0];
      else admitted++;
    }
    if (!refusal) throw new Error('never rate limited over the socket');
    figures.add('refusals');
    expect(admitted).toBeGreaterThanOrEqual(LIMITS.burst);
    expect(refusal.extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'rate', max: LIMITS.ratePerSecond });
    await sleep(Number(refusal.extensions!.retryAfterMs) + 5);
    const after = await wsOnce(client, LIGHT);
    expect(Array.isArray(after) && (after[0] as { data?: unknown }).data).toBeTruthy();
  });

  it('caps subscriptions per connection and per user over all connections, coded RATE_LIMITED, and frees slots when they end', async () => {
    const erin = user('erin');
    const [a, b] = [await socket(erin), await socket(erin)];
    const active = () => system.gateway.limiter.activeSubscriptions(erin);

    const a1 = collect(a, SUBSCRIPTION);
    const a2 = collect(a, SUBSCRIPTION);
    await waitFor('two subscriptions open on connection a', () => active() === 2, 10_000, 20);
    const a3 = collect(a, SUBSCRIPTION);
    expect(wsErrors(await a3.ended)[0]!.extensions).toMatchObject({
      code: 'RATE_LIMITED',
      limit: 'connectionSubscriptions',
      max: PER_CONNECTION,
    });

    const b1 = collect(b, SUBSCRIPTION);
    await waitFor('a third subscription on connection b', () => active() === 3, 10_000, 20);
    const b2 = collect(b, SUBSCRIPTION);
    expect(wsErrors(await b2.ended)[0]!.extensions).toMatchObject({
      code: 'RATE_LIMITED',
      limit: 'subscriptions',
      max: LIMITS.maxSubscriptions,
      retryAfterMs: LIMITS.concurrencyRetryAfterMs,
    });
    figures.add('refusals', 2);
    // The refused ones changed nothing; the open ones still deliver.
    expect(active()).toBe(3);

    a1.dispose();
    await waitFor('the completed subscription freed its slot', () => active() === 2, 10_000, 20);
    const b3 = collect(b, SUBSCRIPTION);
    await waitFor('a new subscription admitted after one ended', () => active() === 3, 10_000, 20);
    await post(erin, 'mutation { createTask(input: { title: "ping" }) { id } }');
    await waitFor('the admitted subscription delivers', () => b3.results.length > 0 && a2.results.length > 0, 10_000, 20);
    for (const s of [a2, b1, b3]) s.dispose();
    await waitFor('every slot released', () => active() === 0, 10_000, 20);
  });

  it('refuses a subscription whose per-event cost is over the budget with COST_LIMIT_EXCEEDED', async () => {
    const client = await socket(user('frank'));
    const heavy = `subscription { taskUpdates { taskId task { history(first: 100) { edges { node { changes { field } task { history(first: 100) { edges { node { id } } } } } } } } } }`;
    const outcome = await collect(client, heavy).ended;
    const error = wsErrors(outcome)[0]!;
    expect(error.extensions).toMatchObject({ code: 'COST_LIMIT_EXCEEDED', maxCost: system.gateway.protection.maxSubscriptionEventCost });
    expect(error.extensions!.estimatedCost).toBeGreaterThan(system.gateway.protection.maxSubscriptionEventCost);
  });
});

it('counts every refusal in gateway_refusals_total by code, limit and transport', async () => {
  const metric = system.gateway.metrics.registry.getSingleMetric('gateway_refusals_total');
  const values = (await metric!.get()).values.map((v) => [v.labels.code, v.labels.limit, v.labels.transport].join(' '));
  expect(values).toEqual(
    expect.arrayContaining([
      'RATE_LIMITED rate http',
      'RATE_LIMITED inFlight http',
      'RATE_LIMITED rate ws',
      'RATE_LIMITED subscriptions ws',
      'COST_LIMIT_EXCEEDED subscriptionEventCost ws',
    ]),
  );
});
