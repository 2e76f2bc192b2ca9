import type { GraphQLDataSource, GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { stableStringify } from './stable-stringify.js';

type Response = Awaited<ReturnType<GraphQLDataSource['process']>>;
type ResponseError = NonNullable<Response['errors']>[number];

interface Member {
  readonly options: GraphQLDataSourceProcessOptions;
  readonly representations: readonly unknown[];
  resolve(response: Response): void;
  reject(error: unknown): void;
}

/**
 * Merges the `_entities` fetches that concurrently resolving events of ONE pipeline (same user,
 * same plan) send to a subgraph within one event-loop turn into a single request, the way a
 * DataLoader batches: a replay of N events costs about N / `eventConcurrency` requests per
 * subgraph instead of N. Results and errors (`_entities.<i>` paths) are split back per caller,
 * so each event's executor sees exactly the response it would have received alone.
 */
export class EntityBatcher implements GraphQLDataSource {
  private readonly batches = new Map<string, Member[]>();

  constructor(private readonly source: GraphQLDataSource) {}

  process(options: GraphQLDataSourceProcessOptions): Promise<Response> {
    const { representations, ...rest } = options.request.variables ?? {};
    if (!Array.isArray(representations)) return this.source.process(options);
    const key = `${options.request.query}\u0000${stableStringify(rest)}`;
    return new Promise((resolve, reject) => {
      let batch = this.batches.get(key);
      if (!batch) {
        batch = [];
        this.batches.set(key, batch);
        // After every event resolving in this turn has reached its fetch (they are all microtasks).
        setImmediate(() => {
          this.batches.delete(key);
          void this.send(batch!);
        });
      }
      batch.push({ options, representations, resolve, reject });
    });
  }

  private async send(batch: Member[]): Promise<void> {
    if (batch.length === 1) {
      const [only] = batch;
      this.source.process(only!.options).then(only!.resolve, only!.reject);
      return;
    }
    const first = batch[0]!.options;
    const representations = batch.flatMap((m) => m.representations);
    let response: Response;
    try {
      response = await this.source.process({
        ...first,
        request: { ...first.request, variables: { ...first.request.variables, representations } },
      } as GraphQLDataSourceProcessOptions);
    } catch (error) {
      for (const member of batch) member.reject(error);
      return;
    }
    const entities = (response.data as { _entities?: unknown } | null | undefined)?._entities;
    let offset = 0;
    for (const member of batch) {
      const start = offset;
      const end = start + member.representations.length;
      offset = end;
      const errors = (response.errors ?? []).flatMap((error) => ownError(error, start, end));
      member.resolve({
        ...(Array.isArray(entities) ? { data: { _entities: entities.slice(start, end) } } : { data: response.data ?? null }),
        ...(errors.length > 0 ? { errors } : {}),
        ...(response.extensions ? { extensions: response.extensions } : {}),
      } as Response);
    }
  }
}

/** The error as seen by the member owning entities [start, end): re-indexed, or shared if it has no entity path. */
function ownError(error: ResponseError, start: number, end: number): ResponseError[] {
  const path = error.path;
  if (path?.[0] !== '_entities' || typeof path[1] !== 'number') return [error];
  if (path[1] < start || path[1] >= end) return [];
  return [{ ...error, path: ['_entities', path[1] - start, ...path.slice(2)] } as ResponseError];
}
