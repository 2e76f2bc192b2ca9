import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type DaprSidecarDouble, startDaprSidecarDouble } from './sidecar-double.js';

/** A bare app: answers /dapr/subscribe with `subscriptions` and events with `reply(topic, body)`. */
interface FakeApp {
  url: string;
  received: { path: string; contentType: string | undefined; body: Record<string, unknown> }[];
  close(): Promise<void>;
}

async function startApp(
  subscriptions: unknown[],
  reply: (path: string, body: Record<string, unknown>) => { status: number; json?: unknown } = () => ({
    status: 200,
    json: { status: 'SUCCESS' },
  }),
): Promise<FakeApp> {
  const received: FakeApp['received'] = [];
  const read = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };
  const server: Server = createServer(async (req, res) => {
    const text = await read(req);
    if (req.url === '/dapr/subscribe') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(subscriptions));
      return;
    }
    const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    received.push({ path: req.url ?? '', contentType: req.headers['content-type'], body });
    const { status, json } = reply(req.url ?? '', body);
    res.writeHead(status, { 'content-type': 'application/json' }).end(json === undefined ? '' : JSON.stringify(json));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

const sub = (topic: string, extra: Record<string, unknown> = {}) => ({
  pubsubname: 'pubsub',
  topic,
  routes: { default: `/events/${topic}` },
  deadLetterTopic: `${topic}-dlq`,
  metadata: {},
  ...extra,
});

async function publish(
  sidecar: DaprSidecarDouble,
  topic: string,
  key: string,
  id: string,
  extra: Record<string, unknown> = {},
): Promise<number> {
  const response = await fetch(`${sidecar.url}/v1.0/publish/pubsub/${topic}?metadata.partitionKey=${key}`, {
    method: 'POST',
    headers: { 'content-type': 'application/cloudevents+json' },
    body: JSON.stringify({ specversion: '1.0', id, source: 'test', type: 't', data: { key, id }, ...extra }),
  });
  return response.status;
}

describe('Dapr sidecar double', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });
  async function sidecarFor(options: Parameters<typeof startDaprSidecarDouble>[0] = {}): Promise<DaprSidecarDouble> {
    const sidecar = await startDaprSidecarDouble(options);
    closers.push(() => sidecar.close());
    return sidecar;
  }
  async function app(...args: Parameters<typeof startApp>): Promise<FakeApp> {
    const started = await startApp(...args);
    closers.push(() => started.close());
    return started;
  }

  test('answers metadata and health; unknown pubsub is 404', async () => {
    const sidecar = await sidecarFor({ appId: 'tasks' });
    const metadata = await (await fetch(`${sidecar.url}/v1.0/metadata`)).json();
    expect(metadata).toMatchObject({ id: 'tasks', components: [{ name: 'pubsub', type: 'pubsub.kafka' }] });
    expect((await fetch(`${sidecar.url}/v1.0/healthz/outbound`)).status).toBe(204);
    expect((await fetch(`${sidecar.url}/v1.0/publish/nope/t`, { method: 'POST', body: '{}' })).status).toBe(404);
  });

  test('discovers the app given at start, keeps events published before it, delivers in order per key while retrying', async () => {
    let failures = 2;
    const target = await app([sub('task-events')], (_path, body) => {
      if ((body.data as { key: string }).key === 'a' && failures > 0) {
        failures -= 1;
        return { status: 200, json: { status: 'RETRY' } };
      }
      return { status: 200, json: { status: 'SUCCESS' } };
    });
    const sidecar = await sidecarFor({ appId: 'audit' });
    expect(await publish(sidecar, 'task-events', 'a', 'a1')).toBe(204);
    expect(await publish(sidecar, 'task-events', 'b', 'b1')).toBe(204);
    expect(await publish(sidecar, 'task-events', 'a', 'a2')).toBe(204);
    await sidecar.addApp(target.url);
    await sidecar.idle();
    const ids = target.received.map((r) => r.body.id);
    expect(ids.filter((id) => String(id).startsWith('a'))).toEqual(['a1', 'a1', 'a1', 'a2']);
    expect(ids).toContain('b1');
    expect(target.received[0]!.contentType).toBe('application/cloudevents+json');
    expect(target.received[0]!.body).toMatchObject({ topic: 'task-events', pubsubname: 'pubsub', specversion: '1.0' });
  });

  test('DROP and 404 route the event to the dead-letter topic, delivered to its subscribers', async () => {
    const dropper = await app([sub('task-events')], (_path, body) =>
      body.id === 'x1' ? { status: 200, json: { status: 'DROP' } } : { status: 404 },
    );
    const dlqReader = await app([sub('task-events-dlq')]);
    const sidecar = await sidecarFor();
    await sidecar.addApp(dropper.url, { appId: 'audit' });
    await sidecar.addApp(dlqReader.url, { appId: 'ops' });
    await publish(sidecar, 'task-events', 'k', 'x1');
    await publish(sidecar, 'task-events', 'k', 'x2');
    await sidecar.idle();
    expect(sidecar.deadLetters.map((d) => [d.eventId, d.deadLetterTopic])).toEqual([
      ['x1', 'task-events-dlq'],
      ['x2', 'task-events-dlq'],
    ]);
    expect(dlqReader.received.map((r) => [r.path, r.body.id, r.body.topic])).toEqual([
      ['/events/task-events-dlq', 'x1', 'task-events-dlq'],
      ['/events/task-events-dlq', 'x2', 'task-events-dlq'],
    ]);
  });

  test('failPublishes / hang: refused publishes are recorded and never delivered', async () => {
    const target = await app([sub('task-events')]);
    const sidecar = await sidecarFor({ appUrl: target.url });
    await sidecar.start();
    sidecar.failPublishes(1);
    expect(await publish(sidecar, 'task-events', 'k', 'e1')).toBe(500);
    sidecar.setPublishMode('hang', { hangMs: 50 });
    expect(await publish(sidecar, 'task-events', 'k', 'e2')).toBe(500);
    sidecar.setPublishMode('ok');
    expect(await publish(sidecar, 'task-events', 'k', 'e3')).toBe(204);
    await sidecar.idle();
    expect(sidecar.publishRequests().map((r) => (r.body as { id: string }).id)).toEqual(['e1', 'e2', 'e3']);
    expect(target.received.map((r) => r.body.id)).toEqual(['e3']);
  });

  test('jobs fire at their due time with the raw data and follow the failure policy', async () => {
    let failures = 1;
    const target = await app([], () => (failures-- > 0 ? { status: 500 } : { status: 200 }));
    const sidecar = await sidecarFor({ appUrl: target.url });
    await sidecar.start();
    const due = new Date(Date.now() + 100);
    const response = await fetch(`${sidecar.url}/v1.0-alpha1/jobs/j1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        dueTime: due.toISOString(),
        repeats: 1,
        data: { hello: 'world' },
        overwrite: true,
        failurePolicy: { constant: { interval: '0.05s', maxRetries: 3 } },
      }),
    });
    expect(response.status).toBe(204);
    const waitUntil = Date.now() + 2_000;
    while (sidecar.jobs.triggers.length < 2 && Date.now() < waitUntil) await new Promise((r) => setTimeout(r, 10));
    expect(sidecar.jobs.triggers.map((t) => [t.name, t.attempt, t.httpStatus])).toEqual([
      ['j1', 1, 500],
      ['j1', 2, 200],
    ]);
    expect(sidecar.jobs.triggers[0]!.at).toBeGreaterThanOrEqual(due.getTime());
    expect(target.received.map((r) => [r.path, r.body])).toEqual([
      ['/job/j1', { hello: 'world' }],
      ['/job/j1', { hello: 'world' }],
    ]);
    expect((await fetch(`${sidecar.url}/v1.0-alpha1/jobs/j1`, { method: 'DELETE' })).status).toBe(404);
  });
});
