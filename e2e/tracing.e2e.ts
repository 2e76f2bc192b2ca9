/**
 * OpenTelemetry end to end (issue: one trace per mutation): with tracing on and an in-memory
 * exporter, one `createTask` through the gateway yields ONE trace id across the gateway's request
 * span, the tasks subgraph's span, the outbox append, the relay publish (Dapr mode), every
 * consumer (audit, notifications, tasks recurrence, sync) and the gateway's subscription delivery —
 * in both bus modes (the Dapr sidecar double carries `traceparent` as daprd does).
 */
import { InMemorySpanExporter, type ReadableSpan, startTracing, type Tracing } from '@taskgraph/runtime';
import {
  connectGateway,
  DaprBrokerDouble,
  type DaprSidecarDouble,
  type RunningSystem,
  startDaprSidecarDouble,
  startSystem,
  waitFor,
} from '@taskgraph/testing';

const exporter = new InMemorySpanExporter();
let tracing: Tracing;

beforeAll(() => {
  tracing = startTracing({ serviceName: 'taskgraph-e2e', exporter });
});
afterAll(async () => {
  await tracing.shutdown();
});

const service = (span: ReadableSpan) => String(span.attributes['taskgraph.service'] ?? span.instrumentationScope.name);
const describeSpan = (span: ReadableSpan) => `${service(span)}:${span.name}`;

/** Runs one traced mutation through `system` and returns the spans of its trace. */
async function traceOneMutation(system: RunningSystem, user: string): Promise<{ traceId: string; spans: ReadableSpan[] }> {
  const token = await system.tokenFor(user);
  const client = await connectGateway(system.gatewayUrl, token);
  try {
    // Subscribed after the current position: the update reaches it even before the upstream is live.
    const position = await system.graphql<{ syncRetention: { latestCursor: string | null } }>(
      '{ syncRetention { latestCursor } }',
      {},
      user,
    );
    const updates = client.subscribe(
      'subscription($a: Cursor) { taskUpdates(after: $a) { op taskId task { title history { edges { node { action } } } } } }',
      { a: position.data?.syncRetention.latestCursor ?? null },
    );
    exporter.reset();
    const created = await system.graphql<{ createTask: { id: string } }>(
      'mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }',
      { i: { title: 'traced', dueAt: new Date(Date.now() + 3_600_000).toISOString(), reminders: [{ offset: 'PT10M' }] } },
      user,
    );
    expect(created.errors).toBeUndefined();
    await updates.waitFor(1, 10_000);
    const root = () =>
      exporter.getFinishedSpans().find((s) => service(s) === 'gateway' && s.name === 'POST /graphql' && !s.parentSpanContext);
    const consumers = ['audit', 'notifications', 'sync'];
    await waitFor(
      'every consumer span of the mutation',
      () => {
        const rootSpan = root();
        if (!rootSpan) return false;
        const inTrace = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === rootSpan.spanContext().traceId);
        return (
          consumers.every((name) => inTrace.some((s) => service(s) === name && s.name.startsWith('consume'))) &&
          inTrace.some((s) => service(s) === 'gateway' && s.name === 'subscription event')
        );
      },
      15_000,
    );
    const traceId = root()!.spanContext().traceId;
    return { traceId, spans: exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId) };
  } finally {
    await client.close();
  }
}

function expectOneTrace(spans: ReadableSpan[], extra: string[] = []): void {
  const names = spans.map(describeSpan);
  for (const expected of [
    'gateway:POST /graphql',
    'tasks:POST /graphql',
    'tasks:outbox append',
    'audit:consume task-events',
    'notifications:consume task-events',
    'sync:consume task-updates',
    'gateway:subscription event',
    ...extra,
  ]) {
    expect(names).toContain(expected);
  }
  // The subscription's entity fetch for `history` ran inside the delivery span, on the audit subgraph.
  const delivery = spans.find((s) => describeSpan(s) === 'gateway:subscription event')!;
  const auditServer = spans.filter((s) => describeSpan(s) === 'audit:POST /graphql');
  expect(auditServer.length).toBeGreaterThan(0);
  const ids = new Map(spans.map((s) => [s.spanContext().spanId, s]));
  const ancestors = (span: ReadableSpan): ReadableSpan[] => {
    const parent = span.parentSpanContext ? ids.get(span.parentSpanContext.spanId) : undefined;
    return parent ? [parent, ...ancestors(parent)] : [];
  };
  expect(auditServer.some((s) => ancestors(s).includes(delivery))).toBe(true);
}

describe('tracing, embedded bus', () => {
  let system: RunningSystem;
  beforeAll(async () => {
    system = await startSystem();
  });
  afterAll(async () => {
    await system?.close();
  });

  it('one mutation is one trace: gateway → tasks → outbox → every consumer → subscription delivery', async () => {
    const { spans } = await traceOneMutation(system, 'trace-embedded');
    expectOneTrace(spans);
  });
});

describe('tracing, Dapr bus (sidecar double)', () => {
  let system: RunningSystem;
  const broker = new DaprBrokerDouble();
  const sidecars = new Map<string, DaprSidecarDouble>();
  beforeAll(async () => {
    for (const name of ['tasks', 'audit', 'notifications', 'sync'])
      sidecars.set(name, await startDaprSidecarDouble({ appId: name, broker }));
    system = await startSystem({ serviceFor: (name) => ({ eventBus: 'dapr', dapr: sidecars.get(name)!.config }) });
    for (const [name, running] of Object.entries(system.services)) {
      await sidecars.get(name)!.addApp(running.url.replace(/\/graphql$/, ''), { appId: name });
    }
  });
  afterAll(async () => {
    await system?.close();
    for (const sidecar of sidecars.values()) await sidecar.close();
  });

  it('one mutation is one trace through Dapr publish and CloudEvent traceparent delivery', async () => {
    const { spans } = await traceOneMutation(system, 'trace-dapr');
    expectOneTrace(spans, ['tasks:publish task-events']);
    // daprd delivers with a traceparent header: the consumer's HTTP span is in the trace too.
    expect(spans.some((s) => describeSpan(s) === 'audit:POST /events/:param' && s.attributes['url.path'] === '/events/task-events')).toBe(
      true,
    );
  });
});
