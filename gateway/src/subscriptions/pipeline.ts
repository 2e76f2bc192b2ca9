import { contextFromTraceparent, ErrorCode, inSpan, SpanKind } from '@taskgraph/runtime';
import type { GraphQLFormattedError } from 'graphql';
import type { ClientStream } from './client-stream.js';
import { type EventExecution, executeSubscriptionEvent, formatErrors, toGraphQLErrors, type UpstreamEvent } from './event-executor.js';
import type { SubscriptionMetrics } from './metrics.js';
import { SerializedResult } from './serialized-payload.js';
import type { UpstreamHandle, UpstreamListener } from './upstream-pool.js';

type Output =
  | { kind: 'result'; result: SerializedResult; readyAt: bigint }
  | { kind: 'end'; errors: readonly GraphQLFormattedError[] | undefined };

interface Slot {
  readonly event: UpstreamEvent | undefined;
  readonly receivedAt: bigint;
  started: boolean;
  output: Output | undefined;
}

export interface PipelineOptions {
  eventConcurrency: number;
  /** Waiting events (unresolved or undelivered) at which the upstream socket stops being read (resumed at half). */
  pauseUpstreamAt: number;
  maxPendingEvents: number;
  /** Resolved results waiting for full client streams, in bytes, at which the upstream is paused too. */
  maxBufferedBytes: number;
}

/**
 * Resolves the events of one distinct client subscription (same user, operation and variables)
 * and fans each result out to every client stream subscribed to it, so identical subscriptions
 * (several tabs) cost one set of entity fetches per event. Events are resolved up to
 * `eventConcurrency` at a time but delivered strictly in upstream order, and only while every
 * stream has room (`ClientStream.hasRoom`; a stream that drains calls `drained()`): the pipeline
 * moves at the pace of its slowest reader, so a replay is paced by the client's socket.
 * At `pauseUpstreamAt` waiting events, or `maxBufferedBytes` of resolved results waiting, the
 * upstream socket stops being read (TCP backpressure to the subgraph, whose replay reads its
 * table page by page as its socket drains); `maxPendingEvents` is the hard bound behind it: past
 * it the pipeline ends with UNAVAILABLE rather than queueing without bound.
 */
export class Pipeline implements UpstreamListener {
  private readonly streams = new Set<ClientStream>();
  private readonly slots: Slot[] = [];
  private running = 0;
  /** Slots are started in order, so the started ones are always a prefix of `slots`. */
  private startedCount = 0;
  private disposed = false;
  private upstream: UpstreamHandle = { release: () => {}, pressure: () => {} };
  private pressured = false;
  /** Serialized bytes of resolved results not yet delivered. */
  private heldBytes = 0;
  /** `flush` is running (a stream leaving during a delivery must not start another one). */
  private flushing = false;
  private reflush = false;

  constructor(
    readonly key: string,
    private readonly execution: EventExecution,
    private readonly options: PipelineOptions,
    private readonly metrics: SubscriptionMetrics,
    private readonly onDispose: (pipeline: Pipeline) => void,
  ) {}

  /** Connects the pipeline to its upstream (after construction: the upstream may end synchronously). */
  attach(acquire: (listener: UpstreamListener) => UpstreamHandle): void {
    const upstream = acquire(this);
    if (this.disposed) upstream.release();
    else this.upstream = upstream;
  }

  get size(): number {
    return this.streams.size;
  }

  /** Events waiting here (unresolved or undelivered) and the bytes of the resolved ones. */
  get held(): { events: number; bytes: number } {
    return { events: this.slots.length, bytes: this.heldBytes };
  }

  /** A full client stream has room again: deliver what waited for it. */
  drained(): void {
    this.flush();
  }

  add(stream: ClientStream): void {
    this.streams.add(stream);
  }

  /** A client stream left; the last one disposes the pipeline and releases the upstream. */
  remove(stream: ClientStream): void {
    if (!this.streams.delete(stream)) return;
    if (this.streams.size === 0) this.dispose();
    // It may have been the full stream the others were waiting for.
    else this.flush();
  }

  next(event: UpstreamEvent): void {
    if (this.disposed) return;
    this.metrics.eventsReceived.inc();
    if (this.slots.length >= this.options.maxPendingEvents) {
      const message = 'Subscription fell too far behind its source; resubscribe (with your last cursor) to resume';
      this.deliverEnd([{ message, extensions: { code: ErrorCode.UNAVAILABLE } }]);
      return;
    }
    this.slots.push({ event, receivedAt: process.hrtime.bigint(), started: false, output: undefined });
    this.updatePressure();
    this.pump();
  }

  end(errors?: readonly GraphQLFormattedError[]): void {
    if (this.disposed) return;
    // Upstream errors are masked like any subgraph error before a client sees them.
    const formatted = errors ? formatErrors(toGraphQLErrors(errors), this.execution.formatError) : undefined;
    this.slots.push({ event: undefined, receivedAt: process.hrtime.bigint(), started: true, output: { kind: 'end', errors: formatted } });
    this.flush();
  }

  private pump(): void {
    while (this.running < this.options.eventConcurrency && this.startedCount < this.slots.length) {
      const slot = this.slots[this.startedCount++]!;
      if (slot.started) continue;
      slot.started = true;
      this.running++;
      void this.resolve(slot);
    }
  }

  private async resolve(slot: Slot): Promise<void> {
    const event = slot.event!;
    // One span per event, continuing the trace the update was consumed in (sync sends it as
    // `extensions.traceparent`): the entity fetches below are its children.
    const traceparent = typeof event.extensions?.traceparent === 'string' ? event.extensions.traceparent : undefined;
    const result = await inSpan(
      'gateway',
      'subscription event',
      { kind: SpanKind.CONSUMER, parent: contextFromTraceparent(traceparent), attributes: { 'taskgraph.subscribers': this.streams.size } },
      () => executeSubscriptionEvent(this.execution, event),
    );
    this.running--;
    if (this.disposed) return;
    const seconds = Number(process.hrtime.bigint() - slot.receivedAt) / 1e9;
    this.metrics.eventSeconds.observe(seconds);
    this.metrics.deliveryLag.observe({ stage: 'gateway_resolve' }, seconds);
    // Serialised and framed once here for every subscriber (`serialized-payload.ts`).
    const serialized = new SerializedResult(JSON.stringify(result));
    slot.output = { kind: 'result', result: serialized, readyAt: process.hrtime.bigint() };
    this.heldBytes += serialized.bytes;
    this.flush();
    this.pump();
  }

  /**
   * Delivers resolved outputs from the head, in upstream order, while every stream has room. Each
   * result is written to every subscribed socket in one pass (one frame per distinct id); when
   * several results go out at once, each socket is corked for the pass so they leave in one write.
   */
  private flush(): void {
    if (this.flushing) {
      this.reflush = true;
      return;
    }
    this.flushing = true;
    try {
      do {
        this.reflush = false;
        this.deliverReady();
      } while (this.reflush && !this.disposed);
    } finally {
      this.flushing = false;
    }
    this.updatePressure();
  }

  private deliverReady(): void {
    let corked: ClientStream[] | undefined;
    try {
      while (!this.disposed && this.slots[0]?.output) {
        const head = this.slots[0].output;
        if (head.kind === 'result' && !this.allHaveRoom()) break;
        this.slots.shift();
        // The head was walked by `pump` unless it is an end marker pump has not reached yet.
        if (this.startedCount > 0) this.startedCount--;
        if (head.kind === 'end') {
          this.deliverEnd(head.errors);
          return;
        }
        if (!corked && this.slots[0]?.output?.kind === 'result') {
          corked = [...this.streams];
          for (const stream of corked) stream.cork();
        }
        this.heldBytes -= head.result.bytes;
        this.metrics.resultsSent.inc(this.streams.size);
        for (const stream of this.streams) stream.push(head.result);
        // Result ready → written to every subscribed socket (once per result and pipeline).
        this.metrics.deliveryLag.observe({ stage: 'client_write' }, Number(process.hrtime.bigint() - head.readyAt) / 1e9);
      }
    } finally {
      if (corked) for (const stream of corked) stream.uncork();
    }
  }

  private allHaveRoom(): boolean {
    for (const stream of this.streams) if (!stream.hasRoom) return false;
    return true;
  }

  /** Stops reading the upstream while too much waits here; resumes at half. */
  private updatePressure(): void {
    if (this.disposed) return;
    const { pauseUpstreamAt, maxBufferedBytes } = this.options;
    if (!this.pressured && (this.slots.length >= pauseUpstreamAt || this.heldBytes >= maxBufferedBytes)) {
      this.pressured = true;
      this.upstream.pressure(true);
    } else if (this.pressured && this.slots.length <= pauseUpstreamAt / 2 && this.heldBytes < maxBufferedBytes / 2) {
      this.pressured = false;
      this.upstream.pressure(false);
    }
  }

  private deliverEnd(errors: readonly GraphQLFormattedError[] | undefined): void {
    const streams = [...this.streams];
    this.dispose();
    for (const stream of streams) stream.end(errors);
  }

  private dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.slots.length = 0;
    this.heldBytes = 0;
    this.streams.clear();
    this.upstream.release();
    this.onDispose(this);
  }
}
