import { type DaprSidecarDouble, startDaprSidecarDouble } from '@taskgraph/test-kit';
import { logger } from './fixtures/bus-harness.js';
import { DaprScheduler, type JobsApiSetting, jobsApiForRuntime, protoJsonDuration } from './index.js';

/**
 * The Jobs route is chosen once from the sidecar's reported version (or DAPR_JOBS_API), against the
 * sidecar double playing each Dapr release: 1.16/1.17 serve only the alpha route, 1.18 both.
 * No database: the scheduler's schedule/delete never touch it.
 */
const noDb = {} as never;

describe('Dapr Jobs API version choice', () => {
  const sidecars: DaprSidecarDouble[] = [];
  afterEach(async () => {
    for (const sidecar of sidecars.splice(0)) await sidecar.close();
  });

  async function against(runtimeVersion: string, jobsApi?: JobsApiSetting) {
    const sidecar = await startDaprSidecarDouble({ appId: 'notifications', runtimeVersion });
    sidecars.push(sidecar);
    const scheduler = new DaprScheduler({ mode: 'dapr', db: noDb, logger, appId: 'notifications', dapr: { ...sidecar.config, jobsApi } });
    return { sidecar, scheduler };
  }

  async function scheduleTwiceAndDelete(scheduler: DaprScheduler) {
    const dueTime = new Date(Date.now() + 60_000);
    await scheduler.schedule({ name: 'r1', dueTime, data: { n: 1 } });
    await scheduler.schedule({ name: 'r2', dueTime, data: { n: 2 } });
    await scheduler.delete('r1');
  }

  test.each([
    ['1.16.9', 'v1.0-alpha1'],
    ['1.17.4', 'v1.0-alpha1'],
    ['1.18.0', 'v1.0'],
    ['1.18.3', 'v1.0'],
  ])('Dapr %s: metadata read once, every job call on /%s/jobs, none refused', async (version, route) => {
    const { sidecar, scheduler } = await against(version);
    await scheduleTwiceAndDelete(scheduler);
    expect(await scheduler.jobsApi()).toBe(route);
    expect(sidecar.requests.filter((r) => r.path === '/v1.0/metadata')).toHaveLength(1);
    expect(sidecar.jobRequests().map((r) => `${r.method} ${r.path}`)).toEqual([
      `POST /${route}/jobs/r1`,
      `POST /${route}/jobs/r2`,
      `DELETE /${route}/jobs/r1`,
    ]);
    expect(sidecar.jobs.list().map((j) => j.name)).toEqual(['r2']);
  });

  test('configuration overrides the version without asking the sidecar', async () => {
    const { sidecar, scheduler } = await against('1.18.3', 'v1.0-alpha1');
    await scheduleTwiceAndDelete(scheduler);
    expect(sidecar.requests.filter((r) => r.path === '/v1.0/metadata')).toHaveLength(0);
    expect(sidecar.jobRequests().every((r) => r.path.startsWith('/v1.0-alpha1/jobs/'))).toBe(true);
    expect(sidecar.jobs.list().map((j) => j.name)).toEqual(['r2']);
  });

  test('forcing the stable route on a 1.17 sidecar fails loudly (404), never falls back per call', async () => {
    const { sidecar, scheduler } = await against('1.17.4', 'v1.0');
    await expect(scheduler.schedule({ name: 'r1', dueTime: new Date(Date.now() + 60_000), data: {} })).rejects.toThrow(/HTTP 404/);
    expect(sidecar.jobRequests().map((r) => r.path)).toEqual(['/v1.0/jobs/r1']);
    expect(sidecar.jobs.list()).toEqual([]);
  });

  test('an unreachable sidecar fails the call; the choice is made again on the next call', async () => {
    const { sidecar, scheduler } = await against('1.16.9');
    const port = sidecar.port;
    await sidecars.pop()?.close();
    const dueTime = new Date(Date.now() + 60_000);
    await expect(scheduler.schedule({ name: 'r1', dueTime, data: {} })).rejects.toThrow();
    const upgraded = await startDaprSidecarDouble({ appId: 'notifications', runtimeVersion: '1.18.3', port });
    sidecars.push(upgraded);
    await scheduler.schedule({ name: 'r1', dueTime, data: {} });
    expect(upgraded.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1.0/metadata', 'POST /v1.0/jobs/r1']);
  });

  test('runtime version parsing', () => {
    expect(['1.16.9', '1.17.0-rc.2', 'v1.18.0', '1.18.3', '1.19.0', '2.0.0', 'edge', 'unknown', ''].map(jobsApiForRuntime)).toEqual([
      'v1.0-alpha1',
      'v1.0-alpha1',
      'v1.0',
      'v1.0',
      'v1.0',
      'v1.0',
      'v1.0',
      undefined,
      undefined,
    ]);
  });

  test('protobuf-JSON durations: seconds with an s suffix, never Go units', () => {
    expect([0, 1, 50, 200, 1_000, 1_500, 5_000, 90_000].map(protoJsonDuration)).toEqual([
      '0s',
      '0.001s',
      '0.05s',
      '0.2s',
      '1s',
      '1.5s',
      '5s',
      '90s',
    ]);
    expect(() => protoJsonDuration(0.5)).toThrow(RangeError);
    expect(() => protoJsonDuration(-1)).toThrow(RangeError);
  });
});
