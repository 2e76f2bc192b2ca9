/**
 * OpenTelemetry tracing (ARCHITECTURE §8): off unless the standard `OTEL_*` variables turn it on.
 *
 * - `OTEL_TRACES_EXPORTER`: `none` (default: no provider, every span is a no-op), `otlp` (OTLP over
 *   HTTP; `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_HEADERS`
 *   are read by the exporter itself) or `console` (development: every span printed as it ends).
 * - `OTEL_SDK_DISABLED=true` turns it off whatever else is set; `OTEL_SERVICE_NAME` overrides the
 *   service name; `OTEL_TRACES_SAMPLER` / `_ARG` are honoured by the SDK.
 *
 * Context travels as W3C Trace Context (`traceparent`, `tracestate`): HTTP headers gateway → subgraph,
 * the outbox row → CloudEvent `traceparent` extension → every consumer, and the change feed → the
 * gateway's subscription delivery. One provider per process; in a process that runs several services
 * (tests, benchmarks) spans carry `taskgraph.service` to tell them apart.
 */
import {
  type Attributes,
  type Context,
  context,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

export { type Link, SpanKind } from '@opentelemetry/api';
/** For tests and tools: collect finished spans in memory (`startTracing({ exporter })`). */
export { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';

export interface TracingOptions {
  /** `service.name` of the process (OTEL_SERVICE_NAME wins). */
  serviceName: string;
  /** An exporter of your own (tests: an in-memory exporter); spans are exported as they end. */
  exporter?: SpanExporter;
  env?: NodeJS.ProcessEnv;
}

export interface Tracing {
  /** Flushes and stops the provider this call registered. */
  shutdown(): Promise<void>;
}

let registered: NodeTracerProvider | undefined;

/**
 * Registers this process's tracer provider as `OTEL_*` says (or with `options.exporter`). A second
 * call while one is registered changes nothing (the first registration owns the process), so every
 * service of a test system can call it.
 */
export function startTracing(options: TracingOptions): Tracing {
  const env = options.env ?? process.env;
  const noop: Tracing = { shutdown: async () => {} };
  if (registered) return noop;
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return noop;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? 'none')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name && name !== 'none');
  const processors = [];
  if (options.exporter) processors.push(new SimpleSpanProcessor(options.exporter));
  for (const name of exporters) {
    if (name === 'otlp') processors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
    else if (name === 'console') processors.push(new SimpleSpanProcessor(new ConsoleSpanExporter()));
    else throw new Error(`OTEL_TRACES_EXPORTER: unsupported exporter ${JSON.stringify(name)} (use otlp, console or none)`);
  }
  if (processors.length === 0) return noop;
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME?.trim() || options.serviceName }),
    spanProcessors: processors,
  });
  provider.register(); // AsyncLocalStorage context manager + W3C trace context and baggage propagators
  registered = provider;
  return {
    shutdown: async () => {
      if (registered !== provider) return;
      registered = undefined;
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}

/** Whether spans are being recorded in this process (callers skip work that only feeds tracing). */
export const tracingEnabled = (): boolean => registered !== undefined;

/** The tracer of one service (`taskgraph.<service>`). */
export const tracerFor = (service: string) => trace.getTracer(`taskgraph.${service}`);

/** Headers carrying `ctx` (default: the active context) as W3C trace context; empty when tracing is off. */
export function traceHeaders(ctx: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

/** The `traceparent` of the active context, for an outbox row or a message; undefined when none. */
export const currentTraceparent = (): string | undefined => traceHeaders().traceparent;

/** The remote context a `traceparent` (and optional `tracestate`) names; the root context when absent or invalid. */
export function contextFromTraceparent(traceparent: string | undefined | null, tracestate?: string | null): Context {
  if (!traceparent) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, tracestate ? { traceparent, tracestate } : { traceparent });
}

/** A span link to the context a `traceparent` names (none for a missing or invalid one). */
export function linkToTraceparent(traceparent: string | undefined | null): Link | undefined {
  const spanContext = trace.getSpanContext(contextFromTraceparent(traceparent));
  return spanContext && trace.isSpanContextValid(spanContext) ? { context: spanContext } : undefined;
}

/** The remote context of incoming HTTP headers. */
export function contextFromHeaders(headers: Record<string, string | string[] | undefined>): Context {
  const traceparent = headers.traceparent;
  const tracestate = headers.tracestate;
  return contextFromTraceparent(
    Array.isArray(traceparent) ? traceparent[0] : traceparent,
    Array.isArray(tracestate) ? tracestate[0] : tracestate,
  );
}

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** Parent context (default: the active one). */
  parent?: Context;
  links?: Link[];
}

/**
 * Runs `fn` inside a new active span of `service`'s tracer; the span records a thrown error and
 * always ends. With tracing off this costs one no-op span.
 */
export function inSpan<T>(service: string, name: string, options: SpanOptions, fn: (span: Span) => Promise<T> | T): Promise<T> {
  const attributes: Attributes = { 'taskgraph.service': service, ...options.attributes };
  const spanOptions = { kind: options.kind ?? SpanKind.INTERNAL, attributes, ...(options.links ? { links: options.links } : {}) };
  return tracerFor(service).startActiveSpan(name, spanOptions, options.parent ?? context.active(), async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}
