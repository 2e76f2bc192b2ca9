import { ErrorCode, type Logger } from '@taskgraph/runtime';
import type { SubgraphDataSource } from '../subgraph-data-source.js';
import { ClientStream, type ClientStreamHooks } from './client-stream.js';
import type { ConnectionState } from './connection-state.js';
import { EntityBatcher } from './entity-batcher.js';
import type { FormatError } from './event-executor.js';
import type { SubscriptionMetrics } from './metrics.js';
import type { OperationRequest } from './operation-request.js';
import type { SubscriptionOptions } from './options.js';
import { Pipeline } from './pipeline.js';
import { stableStringify } from './stable-stringify.js';
import type { UpstreamPool } from './upstream-pool.js';

export interface PipelineRegistryDeps {
  upstreams: UpstreamPool;
  /** The gateway's subgraph data sources (internal token, keep-alive HTTP), by subgraph name. */
  dataSources(): ReadonlyMap<string, SubgraphDataSource>;
  formatError: FormatError;
  logger: Logger;
  metrics: SubscriptionMetrics;
  options: SubscriptionOptions;
  onOverflow: OnOverflow;
}

/** Called when a client stream overflows (the stream is already ended). */
export type OnOverflow = (connection: ConnectionState, stream: ClientStream, reason: string) => void;

/**
 * The pipelines of the running client subscriptions (ARCHITECTURE §6): identical subscriptions
 * (same schema generation, user, plan and variables) share one `Pipeline`, and each pipeline
 * holds one reference on its upstream in the `UpstreamPool`. The last client stream to leave
 * disposes its pipeline, which releases the upstream.
 */
/** A pipeline and the hooks its client streams share (one set per pipeline, not per client). */
interface Entry {
  readonly pipeline: Pipeline;
  readonly hooks: ClientStreamHooks;
}

export class PipelineRegistry {
  private readonly pipelines = new Map<string, Entry>();
  private streams = 0;

  constructor(private readonly deps: PipelineRegistryDeps) {}

  /** Open client subscriptions and distinct pipelines. */
  get size(): { subscriptions: number; pipelines: number } {
    return { subscriptions: this.streams, pipelines: this.pipelines.size };
  }

  /** Events and result bytes the pipelines hold (waiting for entity fetches or for full client streams). */
  get held(): { events: number; bytes: number } {
    let events = 0;
    let bytes = 0;
    for (const { pipeline } of this.pipelines.values()) {
      const held = pipeline.held;
      events += held.events;
      bytes += held.bytes;
    }
    return { events, bytes };
  }

  /** A new client stream for `request`, fed by the shared pipeline (started with its upstream if new). */
  open(request: Extract<OperationRequest, { kind: 'subscription' }>, generation: number): ClientStream {
    const { state, plan, variables } = request;
    const { metrics } = this.deps;
    const key = [generation, state.userId, plan.key, stableStringify(variables)].join('\u0000');
    const existing = this.pipelines.get(key);
    const entry = existing ?? this.create(key, request);
    this.streams++;
    metrics.subscriptions.inc();
    const stream = new ClientStream(request.id, state, entry.hooks);
    entry.pipeline.add(stream);
    if (!existing) this.connect(entry.pipeline, request);
    return stream;
  }

  private create(key: string, request: Extract<OperationRequest, { kind: 'subscription' }>): Entry {
    const { formatError, logger, metrics, options } = this.deps;
    const pipeline = new Pipeline(
      key,
      {
        planner: request.planner,
        plan: request.plan,
        variables: request.variables,
        userId: request.state.userId,
        // Per pipeline (one user): concurrent events' entity fetches are merged per subgraph.
        dataSources: new Map([...this.deps.dataSources()].map(([name, source]) => [name, new EntityBatcher(source)])),
        formatError,
        logger,
        causalFreshness: options.causalFreshness,
      },
      options,
      metrics,
      (disposed) => {
        if (this.pipelines.get(disposed.key)?.pipeline === disposed) this.pipelines.delete(disposed.key);
        metrics.pipelines.dec();
      },
    );
    const hooks: ClientStreamHooks = {
      onOverflow: (stream, reason) => this.deps.onOverflow(stream.connection, stream, reason),
      onDetach: (detached) => {
        this.streams--;
        metrics.subscriptions.dec();
        pipeline.remove(detached);
      },
      onDrain: () => pipeline.drained(),
    };
    const entry = { pipeline, hooks };
    this.pipelines.set(key, entry);
    metrics.pipelines.inc();
    return entry;
  }

  /** Subscribes the pipeline's primary fetch on its subgraph (only the variables it uses). */
  private connect(pipeline: Pipeline, request: Extract<OperationRequest, { kind: 'subscription' }>): void {
    const { primary } = request.plan;
    const { variables } = request;
    const source = this.deps.dataSources().get(primary.serviceName);
    pipeline.attach((listener) => {
      if (!source) {
        listener.end([
          { message: `Subscription source "${primary.serviceName}" is unavailable`, extensions: { code: ErrorCode.UNAVAILABLE } },
        ]);
        return { release: () => {}, pressure: () => {} };
      }
      const used = Object.fromEntries(
        (primary.variableUsages ?? []).filter((name) => name in variables).map((name) => [name, variables[name]]),
      );
      return this.deps.upstreams.acquire(
        {
          service: primary.serviceName,
          url: source.url,
          userId: request.state.userId,
          query: primary.operation,
          operationName: primary.operationName,
          variables: used,
        },
        listener,
      );
    });
  }
}
