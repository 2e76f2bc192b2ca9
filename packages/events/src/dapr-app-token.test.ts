import { randomUUID } from 'node:crypto';
import type { Database } from '@taskgraph/runtime';
import { createTestDatabase, type DaprSidecarDouble, startDaprSidecarDouble, type TestDatabase, waitFor } from '@taskgraph/test-kit';
import { BusTestbed, effectCount, logger, openTestServiceDb, produce, Recorder, resetTables, taskEvent } from './fixtures/bus-harness.js';
import { createScheduler, DAPR_API_TOKEN_HEADER, daprAppTokenMatches, EventType, ensureBusSchema, type Scheduler } from './index.js';

const APP_TOKEN = 'app-token-0123456789abcdef';
const API_TOKEN = 'api-token-fedcba9876543210';

let testDb: TestDatabase;
let db: Database;
const sidecars: DaprSidecarDouble[] = [];
const testbeds: BusTestbed[] = [];
const schedulers: Scheduler[] = [];

beforeAll(async () => {
  testDb = await createTestDatabase('dapr_token');
  db = await openTestServiceDb(testDb.url);
  await ensureBusSchema(db.url);
});

afterAll(async () => {
  await db?.close();
  await testDb?.drop();
});

beforeEach(() => resetTables(db));

afterEach(async () => {
  for (const testbed of testbeds.splice(0)) await testbed.closeAll();
  for (const scheduler of schedulers.splice(0)) await scheduler.close();
  for (const sidecar of sidecars.splice(0)) await sidecar.close();
});

async function sidecar(options: Parameters<typeof startDaprSidecarDouble>[0]): Promise<DaprSidecarDouble> {
  const started = await startDaprSidecarDouble(options);
  sidecars.push(started);
  return started;
}

function testbed(sidecar: DaprSidecarDouble): BusTestbed {
  const created = new BusTestbed('dapr', db, sidecar);
  testbeds.push(created);
  return created;
}

const forgedEvent = () => {
  const event = taskEvent(randomUUID(), 1, EventType.TaskCreated);
  return JSON.stringify({
    specversion: '1.0',
    id: event.id,
    source: 'taskgraph/test',
    type: event.type,
    time: new Date(event.occurredAt).toISOString(),
    datacontenttype: 'application/json',
    data: event.data,
    seq: '1',
  });
};

describe('daprAppTokenMatches', () => {
  test('only the exact token matches', () => {
    expect(daprAppTokenMatches(APP_TOKEN, APP_TOKEN)).toBe(true);
    expect(daprAppTokenMatches(`${APP_TOKEN}x`, APP_TOKEN)).toBe(false);
    expect(daprAppTokenMatches(APP_TOKEN.slice(0, -1), APP_TOKEN)).toBe(false);
    expect(daprAppTokenMatches('', APP_TOKEN)).toBe(false);
    expect(daprAppTokenMatches(undefined, APP_TOKEN)).toBe(false);
    expect(daprAppTokenMatches([APP_TOKEN, APP_TOKEN], APP_TOKEN)).toBe(false);
  });
});

describe('sidecar → app: APP_API_TOKEN on the Dapr routes', () => {
  test('/dapr/subscribe and /events/<topic> answer 401 without the token or with a wrong one, and nothing is handled', async () => {
    const bed = testbed(await sidecar({ appId: 'consumer', appToken: APP_TOKEN }));
    const recorder = new Recorder();
    const { http } = await bed.startConsumer({ subscriptions: [recorder.subscription('audit')] });
    const url = http!.url;
    const headers = (token?: string) => ({
      'content-type': 'application/cloudevents+json',
      ...(token === undefined ? {} : { [DAPR_API_TOKEN_HEADER]: token }),
    });
    // (HTTP trims surrounding whitespace of header values: `${APP_TOKEN} ` arrives as the token.)
    for (const token of [undefined, '', 'wrong', `${APP_TOKEN}x`, APP_TOKEN.slice(1), APP_TOKEN.toUpperCase()]) {
      expect((await fetch(`${url}/dapr/subscribe`, { headers: headers(token) })).status).toBe(401);
      const post = await fetch(`${url}/events/task-events`, { method: 'POST', headers: headers(token), body: forgedEvent() });
      expect(post.status).toBe(401);
    }
    expect(recorder.calls).toEqual([]);
    expect(await effectCount(db)).toBe(0);
    // The right token reaches the handler.
    expect((await fetch(`${url}/dapr/subscribe`, { headers: headers(APP_TOKEN) })).status).toBe(200);
    const ok = await fetch(`${url}/events/task-events`, { method: 'POST', headers: headers(APP_TOKEN), body: forgedEvent() });
    expect(await ok.json()).toEqual({ status: 'SUCCESS' });
    expect(recorder.calls).toHaveLength(1);
  });

  test('a sidecar with the app token discovers and delivers (its token is what opens the routes)', async () => {
    const side = await sidecar({ appId: 'consumer', appToken: APP_TOKEN });
    const bed = testbed(side);
    const recorder = new Recorder();
    await bed.startRelay();
    await bed.startConsumer({ subscriptions: [recorder.subscription('audit')] });
    await produce(db, [taskEvent(randomUUID(), 1, EventType.TaskCreated), taskEvent(randomUUID(), 1, EventType.TaskCreated)]);
    await waitFor('both delivered', () => recorder.calls.length === 2);
    await side.idle();
    expect(side.deliveries.map((d) => [d.outcome, d.httpStatus])).toEqual([
      ['SUCCESS', 200],
      ['SUCCESS', 200],
    ]);
  });

  test('a sidecar with a wrong app token is refused (401: discovery fails, deliveries retry) and nothing is handled', async () => {
    const side = await sidecar({ appId: 'consumer', appToken: APP_TOKEN, delivery: { retryInitialMs: 5, retryMaxMs: 20 } });
    const bed = testbed(side);
    const recorder = new Recorder();
    const { http } = await bed.startConsumer({ subscriptions: [recorder.subscription('audit')] });
    const misconfigured = await sidecar({ appId: 'consumer', appToken: 'not-the-app-token', broker: side.broker });
    await expect(misconfigured.addApp(http!.url, { appId: 'consumer' }, 300)).rejects.toThrow('did not answer GET /dapr/subscribe');
    // The same app, now reached with the wrong token (replaces the registration above).
    side.broker.addApp({
      appUrl: http!.url,
      appId: 'consumer',
      consumerId: 'consumer',
      appToken: 'not-the-app-token',
      subscriptions: [{ pubsubname: 'pubsub', topic: 'task-events', route: '/events/task-events', deadLetterTopic: 'task-events-dlq' }],
    });
    await bed.startRelay();
    await produce(db, [taskEvent(randomUUID(), 1, EventType.TaskCreated)]);
    await waitFor('three refused attempts', () => side.deliveries.length >= 3);
    expect(new Set(side.deliveries.map((d) => `${d.outcome} ${d.httpStatus}`))).toEqual(new Set(['RETRY 401']));
    expect(recorder.calls).toEqual([]);
    expect(await effectCount(db)).toBe(0);
  });

  test('/job/<name> answers 401 without the token; a sidecar with it triggers the job', async () => {
    const side = await sidecar({ appId: 'notifications', appToken: APP_TOKEN });
    const scheduler = await createScheduler({ mode: 'dapr', db, logger, appId: 'notifications', dapr: side.config });
    schedulers.push(scheduler);
    const triggered: unknown[] = [];
    scheduler.onTrigger(async (job) => {
      triggered.push(job.data);
      return { status: 'SUCCESS' };
    });
    const http = await testbed(side).serve('notifications', scheduler.routes());
    try {
      const post = (token?: string) =>
        fetch(`${http.url}/job/j1`, {
          method: 'POST',
          headers: token === undefined ? {} : { [DAPR_API_TOKEN_HEADER]: token },
          body: '{"forged":true}',
        });
      expect((await post()).status).toBe(401);
      expect((await post('wrong')).status).toBe(401);
      expect(triggered).toEqual([]);
      await side.addApp(http.url, { appId: 'notifications' });
      await scheduler.schedule({ name: 'j2', dueTime: new Date(Date.now() + 50), data: { real: true } });
      await waitFor('job triggered', () => triggered.length === 1);
      expect(triggered).toEqual([{ real: true }]);
      // The double records the trigger when the app's response arrives, after the handler ran.
      await waitFor('trigger recorded', () => side.jobs.triggers.length === 1);
      expect(side.jobs.triggers.map((t) => t.httpStatus)).toEqual([200]);
    } finally {
      await http.close();
    }
  });

  test('without an app token the routes stay open (local development)', async () => {
    const bed = testbed(await sidecar({ appId: 'consumer' }));
    const { http } = await bed.startConsumer({ subscriptions: [new Recorder().subscription('audit')] });
    expect((await fetch(`${http!.url}/dapr/subscribe`)).status).toBe(200);
  });
});

describe('app → sidecar: DAPR_API_TOKEN on publish and jobs', () => {
  test('publish and job calls carry dapr-api-token and are accepted by a sidecar that requires it', async () => {
    const side = await sidecar({ appId: 'consumer', apiToken: API_TOKEN });
    const bed = testbed(side);
    const recorder = new Recorder();
    await bed.startRelay();
    await bed.startConsumer({ subscriptions: [recorder.subscription('audit')] });
    await produce(db, [taskEvent(randomUUID(), 1, EventType.TaskCreated)]);
    await waitFor('delivered', () => recorder.calls.length === 1);
    const scheduler = await createScheduler({ mode: 'dapr', db, logger, appId: 'consumer', dapr: side.config });
    schedulers.push(scheduler);
    await scheduler.schedule({ name: 'j1', dueTime: new Date(Date.now() + 60_000), data: {} });
    await scheduler.delete('j1');
    const calls = [...side.publishRequests(), ...side.jobRequests()];
    expect(calls.map((r) => [r.method, r.headers[DAPR_API_TOKEN_HEADER]])).toEqual([
      ['POST', API_TOKEN],
      ['POST', API_TOKEN],
      ['DELETE', API_TOKEN],
    ]);
  });

  test('without the token the sidecar answers 401: the publish is retried, never marked sent, and scheduling rejects', async () => {
    const side = await sidecar({ appId: 'consumer', apiToken: API_TOKEN });
    const bed = testbed(side);
    const { apiToken: _dropped, ...withoutToken } = side.config;
    await bed.startRelay({ dapr: withoutToken });
    await produce(db, [taskEvent(randomUUID(), 1, EventType.TaskCreated)]);
    await waitFor('refused publishes', () => side.publishRequests().length >= 2);
    expect(side.broker.deliveries).toEqual([]);
    const scheduler = await createScheduler({ mode: 'dapr', db, logger, appId: 'consumer', dapr: withoutToken });
    schedulers.push(scheduler);
    await expect(scheduler.schedule({ name: 'j1', dueTime: new Date(Date.now() + 60_000), data: {} })).rejects.toThrow('HTTP 401');
  });
});
