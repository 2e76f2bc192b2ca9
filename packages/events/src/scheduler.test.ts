import { randomUUID } from 'node:crypto';
import type { Database, EntityManager } from '@taskgraph/runtime';
import { createTestDatabase, type DaprSidecarDouble, startDaprSidecarDouble, type TestDatabase, waitFor } from '@taskgraph/test-kit';
import { BusTestbed, EffectSchema, effectCount, logger, type Mode, openTestServiceDb, pause, resetTables } from './fixtures/bus-harness.js';
import {
  createScheduler,
  type DaprJobRequest,
  ensureBusSchema,
  type HandlerResult,
  type JobHandler,
  type Scheduler,
  type SchedulerOptions,
} from './index.js';

let testDb: TestDatabase;
let db: Database;

beforeAll(async () => {
  testDb = await createTestDatabase('jobs');
  db = await openTestServiceDb(testDb.url);
  await ensureBusSchema(db.url);
});

afterAll(async () => {
  await db?.close();
  await testDb?.drop();
});

const POLICY = { intervalMs: 100, maxRetries: 3 };

interface Trigger {
  name: string;
  data: Record<string, unknown>;
  at: number;
}

/** A job handler that records triggers and writes an effect in its transaction; `script` picks the status. */
function recordingHandler(
  triggers: Trigger[],
  script: (t: Trigger, attempt: number) => HandlerResult['status'] | 'THROW' = () => 'SUCCESS',
): JobHandler {
  return async (job, tx: EntityManager) => {
    const trigger = { name: job.name, data: job.data, at: Date.now() };
    triggers.push(trigger);
    tx.create(EffectSchema, { group: 'jobs', eventId: randomUUID(), taskId: randomUUID(), version: 1, seq: job.name });
    const verdict = script(trigger, triggers.filter((t) => t.name === job.name).length);
    if (verdict === 'THROW') throw new Error('job handler failure');
    return { status: verdict, reason: verdict === 'SUCCESS' ? undefined : `scripted ${verdict}` };
  };
}

describe.each<Mode>(['embedded', 'dapr'])('scheduler (%s)', (mode) => {
  let sidecar: DaprSidecarDouble | undefined;
  let testbed: BusTestbed;
  const closers: (() => Promise<void>)[] = [];

  async function startScheduler(handler: JobHandler, options: Partial<SchedulerOptions> = {}): Promise<Scheduler> {
    const scheduler = await createScheduler({
      mode,
      db,
      logger,
      appId: 'notifications',
      dapr: sidecar?.config,
      failurePolicy: POLICY,
      ...options,
    });
    scheduler.onTrigger(handler);
    if (sidecar) {
      const http = await testbed.serve('notifications', scheduler.routes());
      closers.push(() => http.close());
      await sidecar.addApp(http.url, { appId: 'notifications' });
    }
    await scheduler.start();
    closers.push(() => scheduler.close());
    return scheduler;
  }

  beforeEach(async () => {
    await resetTables(db);
    sidecar = mode === 'dapr' ? await startDaprSidecarDouble({ appId: 'notifications' }) : undefined;
    testbed = new BusTestbed(mode, db, sidecar);
  });

  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    await sidecar?.close();
  });

  test('fires once, at its due time, never early; its writes commit', async () => {
    const triggers: Trigger[] = [];
    const scheduler = await startScheduler(recordingHandler(triggers));
    const due = new Date(Date.now() + 250);
    await scheduler.schedule({ name: 'reminder-1', dueTime: due, data: { reminderId: 'r1' } });
    await waitFor('trigger', () => triggers.length === 1);
    await pause(300);
    expect(triggers).toHaveLength(1);
    expect(triggers[0]!.at).toBeGreaterThanOrEqual(due.getTime());
    expect(triggers[0]!.data).toEqual({ reminderId: 'r1' });
    expect(await effectCount(db, 'jobs')).toBe(1);
    if (mode === 'embedded') expect(await db.fork().getConnection().execute('select 1 from bus.jobs')).toEqual([]);
  });

  test('scheduling the same name again overwrites it: new time, new data, one trigger', async () => {
    const triggers: Trigger[] = [];
    const scheduler = await startScheduler(recordingHandler(triggers));
    const moved = new Date(Date.now() + 450);
    await scheduler.schedule({ name: 'reminder-2', dueTime: new Date(Date.now() + 150), data: { v: 1 } });
    await scheduler.schedule({ name: 'reminder-2', dueTime: moved, data: { v: 2 } });
    await waitFor('trigger', () => triggers.length === 1);
    await pause(200);
    expect(triggers.map((t) => t.data)).toEqual([{ v: 2 }]);
    expect(triggers[0]!.at).toBeGreaterThanOrEqual(moved.getTime());
  });

  test('delete cancels the job; deleting a missing job is not an error', async () => {
    const triggers: Trigger[] = [];
    const scheduler = await startScheduler(recordingHandler(triggers));
    await scheduler.schedule({ name: 'reminder-3', dueTime: new Date(Date.now() + 150), data: {} });
    await scheduler.schedule({ name: 'reminder-4', dueTime: new Date(Date.now() + 200), data: {} });
    await scheduler.delete('reminder-3');
    await expect(scheduler.delete('never-scheduled')).resolves.toBeUndefined();
    await waitFor('the other job', () => triggers.length === 1);
    await pause(150);
    expect(triggers.map((t) => t.name)).toEqual(['reminder-4']);
  });

  test('RETRY (or a throw) is retried per the failure policy; a job that keeps failing stops after maxRetries', async () => {
    const triggers: Trigger[] = [];
    const verdicts = ['RETRY', 'THROW', 'SUCCESS'] as const;
    const scheduler = await startScheduler(
      recordingHandler(triggers, (t, attempt) => (t.name === 'flaky' ? verdicts[attempt - 1]! : 'RETRY')),
    );
    const due = Date.now() + 100;
    await scheduler.schedule({ name: 'flaky', dueTime: new Date(due), data: {} });
    await scheduler.schedule({ name: 'broken', dueTime: new Date(due), data: {} });
    await waitFor('flaky succeeded', () => triggers.filter((t) => t.name === 'flaky').length === 3);
    await waitFor('broken gave up', () => triggers.filter((t) => t.name === 'broken').length === 4);
    await pause(POLICY.intervalMs * 3);
    const flaky = triggers.filter((t) => t.name === 'flaky').map((t) => t.at);
    expect(flaky).toHaveLength(3);
    expect(triggers.filter((t) => t.name === 'broken')).toHaveLength(1 + POLICY.maxRetries);
    // Spaced by the retry interval (a little timer slack allowed).
    expect(flaky[1]! - flaky[0]!).toBeGreaterThanOrEqual(POLICY.intervalMs - 5);
    expect(flaky[2]! - flaky[1]!).toBeGreaterThanOrEqual(POLICY.intervalMs - 5);
    // Only the successful trigger's writes committed.
    expect(await effectCount(db, 'jobs')).toBe(1);
  });
});

describe('embedded scheduler', () => {
  const closers: (() => Promise<void>)[] = [];
  beforeEach(() => resetTables(db));
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  async function start(handler: JobHandler): Promise<Scheduler> {
    const scheduler = await createScheduler({ mode: 'embedded', db, logger, appId: 'notifications', failurePolicy: POLICY });
    scheduler.onTrigger(handler);
    await scheduler.start();
    closers.push(() => scheduler.close());
    return scheduler;
  }

  test("schedule(job, tx) joins the caller's transaction", async () => {
    const triggers: Trigger[] = [];
    const scheduler = await start(recordingHandler(triggers));
    const dueTime = new Date(Date.now() + 100);
    await expect(
      db.fork().transactional(async (tx) => {
        await scheduler.schedule({ name: 'rolled-back', dueTime, data: {} }, tx);
        throw new Error('caller failed');
      }),
    ).rejects.toThrow('caller failed');
    await db.fork().transactional((tx) => scheduler.schedule({ name: 'committed', dueTime, data: {} }, tx));
    await waitFor('committed job', () => triggers.length === 1);
    await pause(200);
    expect(triggers.map((t) => t.name)).toEqual(['committed']);
  });

  test('several processes of one app never fire a job twice', async () => {
    const triggers: Trigger[] = [];
    const slow: JobHandler = async (job, tx) => {
      await pause(20);
      return recordingHandler(triggers)(job, tx);
    };
    const schedulers = [await start(slow), await start(slow), await start(slow)];
    const due = new Date(Date.now() + 150);
    for (let i = 0; i < 6; i++) await schedulers[i % 3]!.schedule({ name: `job-${i}`, dueTime: due, data: { i } });
    await waitFor('all jobs', () => triggers.length === 6);
    await pause(250);
    expect(triggers.map((t) => t.name).sort()).toEqual(['job-0', 'job-1', 'job-2', 'job-3', 'job-4', 'job-5']);
  });

  test('jobs are namespaced per app-id', async () => {
    const triggers: Trigger[] = [];
    const mine = await start(recordingHandler(triggers));
    const other = await createScheduler({ mode: 'embedded', db, logger, appId: 'other-app', failurePolicy: POLICY });
    await other.schedule({ name: 'same-name', dueTime: new Date(Date.now() + 50), data: { app: 'other' } });
    await mine.schedule({ name: 'same-name', dueTime: new Date(Date.now() + 100), data: { app: 'mine' } });
    await waitFor('mine', () => triggers.length === 1);
    await pause(150);
    expect(triggers.map((t) => t.data)).toEqual([{ app: 'mine' }]);
    await other.close();
  });
});

describe('dapr scheduler on the wire (ARCHITECTURE §5)', () => {
  let sidecar: DaprSidecarDouble;
  beforeEach(async () => {
    sidecar = await startDaprSidecarDouble({ appId: 'notifications' });
  });
  afterEach(() => sidecar.close());

  test('POST/DELETE /v1.0/jobs/{name} on Dapr 1.18 with the exact body, default failure policy 5s × 3', async () => {
    const scheduler = await createScheduler({ mode: 'dapr', db, logger, appId: 'notifications', dapr: sidecar.config });
    const dueTime = new Date('2030-01-02T03:04:05.678Z');
    await scheduler.schedule({ name: 'reminder:abc', dueTime, data: { reminderId: 'abc', taskId: 't1' } });
    await scheduler.delete('reminder:abc');
    await scheduler.delete('reminder:abc');
    const requests = sidecar.jobRequests();
    expect(requests.map((r) => [r.method, r.path])).toEqual([
      ['POST', '/v1.0/jobs/reminder%3Aabc'],
      ['DELETE', '/v1.0/jobs/reminder%3Aabc'],
      ['DELETE', '/v1.0/jobs/reminder%3Aabc'],
    ]);
    expect(requests[0]!.headers['content-type']).toBe('application/json');
    expect(requests[0]!.rawBody).toBe(
      '{"dueTime":"2030-01-02T03:04:05.678Z","repeats":1,"data":{"reminderId":"abc","taskId":"t1"},"overwrite":true,' +
        '"failurePolicy":{"constant":{"interval":"5s","maxRetries":3}}}',
    );
    expect(sidecar.jobs.list()).toEqual([]);
  });

  test('a sub-second retry interval is sent as a protobuf-JSON duration the sidecar accepts', async () => {
    const failurePolicy = { intervalMs: 200, maxRetries: 2 };
    const scheduler = await createScheduler({ mode: 'dapr', db, logger, appId: 'notifications', dapr: sidecar.config, failurePolicy });
    await scheduler.schedule({ name: 'fast-retry', dueTime: new Date(Date.now() + 60_000), data: {} });
    const [request] = sidecar.jobRequests();
    expect((request!.body as DaprJobRequest).failurePolicy).toEqual({ constant: { interval: '0.2s', maxRetries: 2 } });
    expect(sidecar.jobs.get('fast-retry')).toMatchObject({ retryIntervalMs: 200, maxRetries: 2 });
  });

  test('schedule and delete reject when the sidecar is unreachable', async () => {
    const gone = await startDaprSidecarDouble();
    await gone.close();
    const scheduler = await createScheduler({ mode: 'dapr', db, logger, appId: 'notifications', dapr: gone.config });
    await expect(scheduler.schedule({ name: 'lost', dueTime: new Date(Date.now() + 1_000), data: {} })).rejects.toThrow();
    await expect(scheduler.delete('lost')).rejects.toThrow();
  });

  test('POST /job/{name}: raw data to the handler; 200 on SUCCESS/DROP, 500 on RETRY', async () => {
    const scheduler = await createScheduler({ mode: 'dapr', db, logger, appId: 'notifications', dapr: sidecar.config });
    const seen: unknown[] = [];
    scheduler.onTrigger(async (job) => {
      seen.push(job);
      return { status: job.data.verdict as HandlerResult['status'] };
    });
    const testbed = new BusTestbed('dapr', db, sidecar);
    const http = await testbed.serve('notifications', scheduler.routes());
    try {
      const post = async (body: string) => (await fetch(`${http.url}/job/j1`, { method: 'POST', body })).status;
      expect(await post('{"verdict":"SUCCESS"}')).toBe(200);
      expect(await post('{"verdict":"DROP"}')).toBe(200);
      expect(await post('{"verdict":"RETRY"}')).toBe(500);
      expect(await post('not json')).toBe(200);
      expect(seen).toEqual([
        { name: 'j1', data: { verdict: 'SUCCESS' } },
        { name: 'j1', data: { verdict: 'DROP' } },
        { name: 'j1', data: { verdict: 'RETRY' } },
      ]);
    } finally {
      await http.close();
    }
  });
});
