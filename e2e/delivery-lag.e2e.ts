/**
 * `delivery_lag_seconds{stage}` (issue 15 item 5): sync observes `consumer` and `sync_push`, the
 * gateway `gateway_resolve` and `client_write`, once per live update and subscriber; replayed
 * updates are resolved by the gateway but were never pushed live by sync.
 */
import {
  connectGateway,
  type DeliveryLag,
  type GatewayClient,
  lagQuantileMs,
  type RunningSystem,
  scrapeDeliveryLag,
  startSystem,
  waitFor,
} from '@taskgraph/testing';

let system: RunningSystem;
const clients: GatewayClient[] = [];

beforeAll(async () => {
  system = await startSystem();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await system?.close();
});

const SUBSCRIPTION = 'subscription($after: Cursor) { taskUpdates(after: $after) { cursor op task { title } } }';

async function scrape(): Promise<{ sync: DeliveryLag; gateway: DeliveryLag }> {
  return { sync: await scrapeDeliveryLag(system.services.sync!.url), gateway: await scrapeDeliveryLag(system.gatewayUrl) };
}

const count = (lag: DeliveryLag, stage: keyof DeliveryLag) => lag[stage]?.count ?? 0;

it('observes each stage once per live update, in the process that runs it', async () => {
  const before = await scrape();
  const latest = await system.graphql<{ syncRetention: { latestCursor: string | null } }>(
    '{ syncRetention { latestCursor } }',
    {},
    'lag-alice',
  );
  const client = connectGateway(system.gatewayUrl, await system.tokenFor('lag-alice'));
  clients.push(client);
  const live = client.subscribe<{ taskUpdates: { cursor: string } }>(SUBSCRIPTION, { after: latest.data!.syncRetention.latestCursor });
  // Mutate only once sync serves the subscription live: an update published before it would reach the
  // subscriber by replay (from the table), which is not a live push.
  await waitFor(
    'the subscription open on sync',
    async () => /^subscriptions_open\{[^}]*\} [1-9]/m.test(await (await fetch(new URL('/metrics', system.services.sync!.url))).text()),
    15_000,
    50,
  );
  for (const title of ['one', 'two', 'three']) {
    const res = await system.graphql('mutation($t: String!) { createTask(input: { title: $t }) { id } }', { t: title }, 'lag-alice');
    expect(res.errors).toBeUndefined();
  }
  const results = await live.waitFor(3, 15_000);
  const after = await scrape();

  // Sync: three events consumed and three live pushes; it exposes no gateway stage and vice versa.
  expect(count(after.sync, 'consumer') - count(before.sync, 'consumer')).toBe(3);
  expect(count(after.sync, 'sync_push') - count(before.sync, 'sync_push')).toBe(3);
  expect(count(after.sync, 'gateway_resolve')).toBe(0);
  expect(count(after.gateway, 'gateway_resolve') - count(before.gateway, 'gateway_resolve')).toBe(3);
  expect(count(after.gateway, 'client_write') - count(before.gateway, 'client_write')).toBe(3);
  expect(count(after.gateway, 'consumer')).toBe(0);
  for (const [lag, stage] of [
    [after.sync, 'consumer'],
    [after.sync, 'sync_push'],
    [after.gateway, 'gateway_resolve'],
    [after.gateway, 'client_write'],
  ] as const) {
    const h = lag[stage]!;
    expect(h.sum).toBeGreaterThanOrEqual(0);
    expect(h.sum / h.count).toBeLessThan(10);
    expect(lagQuantileMs(h, 0.5)).toBeLessThan(10_000);
  }

  // A second subscriber replaying the last two: the gateway resolves them, sync pushes nothing live.
  const replay = client.subscribe<{ taskUpdates: { cursor: string } }>(SUBSCRIPTION, { after: results[0]!.data!.taskUpdates.cursor });
  await replay.waitFor(2, 15_000);
  const replayed = await scrape();
  expect(count(replayed.sync, 'sync_push')).toBe(count(after.sync, 'sync_push'));
  expect(count(replayed.gateway, 'gateway_resolve') - count(after.gateway, 'gateway_resolve')).toBe(2);
});
