import { parseProtoJsonDuration } from './proto-duration.js';
import { type DaprSidecarDouble, DEFAULT_DAPR_RUNTIME_VERSION, startDaprSidecarDouble } from './sidecar-double.js';

/** The double's Jobs API per Dapr release, and its protojson body checks (as daprd's pkg/api/http/jobs.go). */
describe('sidecar double: Jobs API per Dapr release', () => {
  const sidecars: DaprSidecarDouble[] = [];
  afterEach(async () => {
    for (const sidecar of sidecars.splice(0)) await sidecar.close();
  });

  async function sidecar(runtimeVersion?: string): Promise<DaprSidecarDouble> {
    const started = await startDaprSidecarDouble(runtimeVersion ? { runtimeVersion } : {});
    sidecars.push(started);
    return started;
  }

  const body = (interval: unknown) =>
    JSON.stringify({
      dueTime: new Date(Date.now() + 60_000).toISOString(),
      repeats: 1,
      data: { a: 1 },
      overwrite: true,
      failurePolicy: { constant: { interval, maxRetries: 3 } },
    });
  const post = (s: DaprSidecarDouble, prefix: string, interval: unknown = '5s') =>
    fetch(`${s.url}/${prefix}/jobs/j1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(interval) });

  test.each(['1.16.9', '1.17.4'])(
    'Dapr %s: metadata reports it; only the alpha route exists, the stable one is daprd 404',
    async (version) => {
      const s = await sidecar(version);
      const metadata = (await (await fetch(`${s.url}/v1.0/metadata`)).json()) as { runtimeVersion: string };
      expect(metadata.runtimeVersion).toBe(version);
      const stable = await post(s, 'v1.0');
      expect(stable.status).toBe(404);
      expect(await stable.json()).toEqual({
        errorCode: 'ERR_DIRECT_INVOKE',
        message: 'failed getting app id either from the URL path or the header dapr-app-id',
      });
      expect(s.jobs.list()).toEqual([]);
      expect((await post(s, 'v1.0-alpha1')).status).toBe(204);
      expect(s.jobs.list().map((j) => j.name)).toEqual(['j1']);
      expect((await fetch(`${s.url}/v1.0/jobs/j1`, { method: 'DELETE' })).status).toBe(404);
      expect(s.jobs.list()).toHaveLength(1);
      expect((await fetch(`${s.url}/v1.0-alpha1/jobs/j1`, { method: 'DELETE' })).status).toBe(204);
      expect(s.jobs.list()).toEqual([]);
    },
  );

  test(`Dapr 1.18 (default ${DEFAULT_DAPR_RUNTIME_VERSION}): both routes schedule, get and delete the same job`, async () => {
    const s = await sidecar();
    expect(((await (await fetch(`${s.url}/v1.0/metadata`)).json()) as { runtimeVersion: string }).runtimeVersion).toBe(
      DEFAULT_DAPR_RUNTIME_VERSION,
    );
    expect((await post(s, 'v1.0')).status).toBe(204);
    expect((await fetch(`${s.url}/v1.0-alpha1/jobs/j1`)).status).toBe(200);
    expect((await post(s, 'v1.0-alpha1', '0.2s')).status).toBe(204);
    expect(s.jobs.get('j1')?.retryIntervalMs).toBe(200);
    expect((await fetch(`${s.url}/v1.0/jobs/j1`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${s.url}/v1.0-alpha1/jobs/j1`, { method: 'DELETE' })).status).toBe(404);
  });

  test.each(['200ms', '5', '1m', '1.5', 5, '.s'])('failurePolicy interval %p is refused with 400 as protojson does', async (interval) => {
    const s = await sidecar();
    const response = await post(s, 'v1.0', interval);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      errorCode: 'ERR_MALFORMED_REQUEST',
      message: `failed deserializing HTTP body: proto: invalid google.protobuf.Duration value ${JSON.stringify(interval)}`,
    });
    expect(s.jobs.list()).toEqual([]);
  });

  test('protobuf-JSON durations parse to milliseconds', () => {
    expect(['5s', '0.2s', '0.05s', '1.001s', '-1.5s', '.5s', '0s'].map(parseProtoJsonDuration)).toEqual([
      5_000, 200, 50, 1_001, -1_500, 500, 0,
    ]);
    expect(['200ms', '1.0000000001s', '05s', 's', '1 s', '1e3s'].map(parseProtoJsonDuration)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  test('a runtime version that is not a Dapr release is refused at construction', async () => {
    await expect(startDaprSidecarDouble({ runtimeVersion: 'double' })).rejects.toThrow(/not a Dapr release/);
  });
});
