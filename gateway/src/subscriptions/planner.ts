import { operationFromDocument, type Schema, Supergraph } from '@apollo/federation-internals';
import { buildOperationContext } from '@apollo/gateway';
import { type FetchNode, type PlanNode, QueryPlanner } from '@apollo/query-planner';
import { type DocumentNode, type GraphQLSchema, parse } from 'graphql';

type OperationContext = ReturnType<typeof buildOperationContext>;

/**
 * A planned client subscription (ARCHITECTURE §6): `primary` runs on the subgraph that owns the
 * `Subscription` root field (over graphql-ws), `rest` runs for every event (entity fetches).
 */
export interface SubscriptionPlan {
  /** Identifies the plan among all plans of one supergraph (operation text + name). */
  readonly key: string;
  readonly primary: FetchNode;
  readonly rest: PlanNode | undefined;
  /** What `executeQueryPlan` needs to shape each event's response. */
  readonly operationContext: OperationContext;
}

/**
 * Plans subscription operations against one supergraph with Apollo's query planner, caching
 * plans by operation text (LRU). Build a new planner when the supergraph changes.
 */
export class SubscriptionPlanner {
  /** The client-facing schema operations are validated against. */
  readonly apiGraphQLSchema: GraphQLSchema;
  /** The supergraph as graphql-js (for `executeQueryPlan`). */
  readonly supergraphGraphQLSchema: GraphQLSchema;
  readonly apiSchema: Schema;
  private readonly planner: QueryPlanner;
  private readonly cache = new Map<string, SubscriptionPlan>();
  private readonly documents = new Map<string, DocumentNode>();

  constructor(
    readonly supergraphSdl: string,
    private readonly cacheSize = 500,
  ) {
    const supergraph = Supergraph.build(supergraphSdl);
    this.apiSchema = supergraph.apiSchema();
    this.apiGraphQLSchema = this.apiSchema.toGraphQLJSSchema();
    this.supergraphGraphQLSchema = supergraph.schema.toGraphQLJSSchema();
    this.planner = new QueryPlanner(supergraph);
  }

  /**
   * The parsed document of `source`, shared by every subscription with the same text (LRU,
   * `cacheSize`): graphql-ws keeps a subscription's document for its whole life, and a parsed
   * document with its token list is several KiB. Nothing mutates documents (graphql-js and
   * Apollo treat the AST as immutable). Throws `GraphQLError` on a syntax error (not cached).
   */
  parse(source: string): DocumentNode {
    return cached(this.documents, source, this.cacheSize, () => parse(source));
  }

  /**
   * The plan of a validated subscription document. `source` (the operation text) is the cache
   * key; the plan's `primary` is always a single fetch (the planner guarantees it).
   */
  plan(document: DocumentNode, source: string, operationName: string | undefined): SubscriptionPlan {
    const key = `${operationName ?? ''}\u0000${source}`;
    return cached(this.cache, key, this.cacheSize, () => {
      const operation = operationFromDocument(this.apiSchema, document, operationName ? { operationName } : {});
      const queryPlan = this.planner.buildQueryPlan(operation);
      const node = queryPlan.node;
      if (node?.kind !== 'Subscription') throw new Error(`expected a Subscription plan node, got ${node?.kind ?? 'none'}`);
      return {
        key,
        primary: node.primary,
        rest: node.rest,
        operationContext: buildOperationContext({
          schema: this.apiGraphQLSchema,
          operationDocument: document,
          ...(operationName ? { operationName } : {}),
        }),
      };
    });
  }

  /** Plans cached now (tests, metrics). */
  get cachedPlans(): number {
    return this.cache.size;
  }
}

/** `cache.get(key)`, else `create()` stored under `key`; least recently used entries beyond `size` are dropped. */
function cached<T>(cache: Map<string, T>, key: string, size: number, create: () => T): T {
  const hit = cache.get(key);
  if (hit !== undefined) {
    // Refresh recency: Map iteration order is insertion order.
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  const value = create();
  cache.set(key, value);
  if (cache.size > size) cache.delete(cache.keys().next().value!);
  return value;
}
