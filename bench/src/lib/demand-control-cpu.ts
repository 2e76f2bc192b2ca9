/**
 * CPU that demand control and per-user fairness add to one gateway request (issue 14): the
 * gateway's own `protectionPlugin` hooks (`didResolveOperation`: token bucket, static cost estimate,
 * in-flight slot; `willSendResponse`: slot release) run on the benchmark's query and variables, as
 * Apollo calls them in production (`reportCost` off), timed by `process.cpuUsage` over many
 * iterations in this otherwise idle process. Compared with the gateway's measured CPU per request
 * of the same run, this gives the share of gateway CPU demand control costs.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { GraphQLRequestListener } from '@apollo/server';
import { DEFAULT_PROTECTION, type GatewayContext, protectionPlugin, UserLimiter } from '@taskgraph/gateway';
import { buildSchema, Kind, type OperationDefinitionNode, parse } from 'graphql';
import { repoRoot } from './report.js';

export interface DemandControlCpu {
  /** CPU ms per request spent in the protection hooks. */
  cpuMsPerRequest: number;
  /** The estimated cost of the benchmark query (for the report). */
  estimatedCost: number;
  iterations: number;
}

/** Times the protection hooks on `query` (production defaults, fairness loose so nothing is refused). */
export async function measureDemandControlCpu(
  query: string,
  variables: Record<string, unknown>,
  iterations = 20_000,
): Promise<DemandControlCpu> {
  // The client-facing schema as codegen prints it from the composed supergraph (committed, CI-checked).
  const schema = buildSchema(readFileSync(resolve(repoRoot, 'client/src/__generated__/schema.graphql'), 'utf8'));
  const document = parse(query);
  const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
  const options = { ...DEFAULT_PROTECTION, ratePerSecond: 1e9, burst: 1e9, reportCost: true };
  const limiter = new UserLimiter(options);
  const plugin = protectionPlugin({ ...options, reportCost: false }, limiter);
  const context = {
    contextValue: { userId: 'bench-user' },
    operation,
    document,
    schema,
    request: { query, variables, http: {} },
    response: { body: { kind: 'single', singleResult: { data: {} } } },
  };
  type Listener = GraphQLRequestListener<GatewayContext>;
  const run = async () => {
    const listener = (await plugin.requestDidStart?.(context as never)) as Listener;
    await listener.didResolveOperation?.(context as never);
    await listener.willSendResponse?.(context as never);
  };
  for (let i = 0; i < 2_000; i++) await run(); // warm-up (JIT)
  const started = process.cpuUsage();
  for (let i = 0; i < iterations; i++) await run();
  const used = process.cpuUsage(started);
  // The estimate itself, once, through the same plugin with reporting on.
  const reporting = protectionPlugin(options, limiter);
  const listener = (await reporting.requestDidStart?.(context as never)) as Listener;
  await listener.didResolveOperation?.(context as never);
  await listener.willSendResponse?.(context as never);
  const cost = (context.response.body.singleResult as { extensions?: { cost?: { estimated: number } } }).extensions?.cost;
  return { cpuMsPerRequest: (used.user + used.system) / 1000 / iterations, estimatedCost: cost?.estimated ?? Number.NaN, iterations };
}
