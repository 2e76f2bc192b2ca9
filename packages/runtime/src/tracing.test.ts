/**
 * Tracing through the HTTP seam: a request to service A, which calls service B with `traceHeaders()`,
 * gives one trace: A's SERVER span → A's CLIENT span → B's SERVER span. Off by default.
 */
import { type HttpRoute, type HttpService, startHttpService } from './http.js';
import { createLogger } from './logger.js';
import { createMetrics } from './metrics.js';
import { currentTraceparent, InMemorySpanExporter, inSpan, SpanKind, startTracing, type Tracing, traceHeaders } from './tracing.js';

const exporter = new InMemorySpanExporter();
let tracing: Tracing;
const services: HttpService[] = [];

const start = (name: string, handle: HttpRoute['handle']) =>
  startHttpService({
    name,
    host: '127.0.0.1',
    port: 0,
    logger: createLogger(name, 'silent'),
    metrics: createMetrics(name),
    readiness: [],
    routes: [{ method: 'POST', path: '/work', handle }],
  }).then((service) => {
    services.push(service);
    return service;
  });

afterAll(async () => {
  for (const service of services) await service.close();
  await tracing?.shutdown();
});

it('is off unless OTEL_TRACES_EXPORTER (or an exporter) says otherwise', async () => {
  const off = startTracing({ serviceName: 'x', env: {} });
  await inSpan('x', 'nothing', {}, async () => {
    expect(currentTraceparent()).toBeUndefined();
  });
  await off.shutdown();
  expect(() => startTracing({ serviceName: 'x', env: { OTEL_TRACES_EXPORTER: 'zipkin' } })).toThrow(/unsupported exporter "zipkin"/);
});

it('continues one trace across HTTP services through W3C traceparent', async () => {
  tracing = startTracing({ serviceName: 'test', exporter, env: { OTEL_TRACES_EXPORTER: 'none' } });
  const b = await start('b', (_req, res) => {
    res.end('ok');
  });
  const a = await start('a', async (_req, res) => {
    await inSpan('a', 'call b', { kind: SpanKind.CLIENT }, async () => {
      await fetch(`${b.url}/work`, { method: 'POST', headers: traceHeaders() });
    });
    res.end('ok');
  });
  const response = await fetch(`${a.url}/work`, { method: 'POST' });
  expect(response.status).toBe(200);
  const spans = exporter.getFinishedSpans();
  const byName = (service: string, name: string) => spans.find((s) => s.attributes['taskgraph.service'] === service && s.name === name);
  const serverA = byName('a', 'POST /work');
  const client = byName('a', 'call b');
  const serverB = byName('b', 'POST /work');
  expect([serverA, client, serverB].every(Boolean)).toBe(true);
  const traceId = serverA!.spanContext().traceId;
  expect(client!.spanContext().traceId).toBe(traceId);
  expect(serverB!.spanContext().traceId).toBe(traceId);
  expect(client!.parentSpanContext?.spanId).toBe(serverA!.spanContext().spanId);
  expect(serverB!.parentSpanContext?.spanId).toBe(client!.spanContext().spanId);
  expect(serverB!.kind).toBe(SpanKind.SERVER);
});
