import { connectGateway } from './gateway-client.js';
import { type LatencySummary, summarize } from './latency-summary.js';

export interface RealtimeLatencyOptions {
  /** The gateway's GraphQL URL (`http://…/graphql`); the probe connects with graphql-ws. */
  gatewayUrl: string;
  /** A client JWT for the subscribing user. */
  token: string;
  /** A subscription that yields exactly one result per `mutate` call (e.g. `taskUpdates(after:)`). */
  subscription: string;
  variables?: Record<string, unknown>;
  /** Makes the i-th change over HTTP; resolves when its response has arrived. */
  mutate(i: number): Promise<void>;
  /** Measured changes (one in flight at a time). */
  iterations: number;
  /** Changes made first and not measured (connections, JIT, caches). Default 10. */
  warmup?: number;
  /** Longest wait for one result. Default 10 s. */
  timeoutMs?: number;
}

/** Milliseconds from a change to its result arriving at the subscriber. */
export interface RealtimeLatencySample {
  /** Mutation request sent → subscription result received. */
  fromRequest: number;
  /** Mutation response received → subscription result received (negative: the push won the race). */
  fromResponse: number;
}

export interface RealtimeLatencyReport {
  samples: RealtimeLatencySample[];
  fromRequest: LatencySummary;
  fromResponse: LatencySummary;
}

/**
 * Measures realtime latency through the gateway as a client sees it: for each change, the time
 * from the mutation (request sent, response received) to the matching subscription result
 * arriving over graphql-ws. Changes are made one at a time, so this is latency, not throughput.
 * For `bench/realtime-latency.ts`: start the system (`startSystem` from `@taskgraph/testing`),
 * subscribe `taskUpdates(after: <syncRetention.latestCursor>)`, and mutate one task per call.
 */
export async function measureRealtimeLatency(options: RealtimeLatencyOptions): Promise<RealtimeLatencyReport> {
  const warmup = options.warmup ?? 10;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const client = connectGateway(options.gatewayUrl, options.token);
  try {
    const subscription = client.subscribe(options.subscription, options.variables);
    const samples: RealtimeLatencySample[] = [];
    for (let i = 0; i < warmup + options.iterations; i++) {
      const sent = performance.now();
      await options.mutate(i);
      const responded = performance.now();
      await subscription.waitFor(i + 1, timeoutMs);
      const failed = subscription.results[i]?.errors;
      if (failed) throw new Error(`subscription result ${i} has errors: ${JSON.stringify(failed)}`);
      const received = subscription.receivedAt[i]!;
      if (i >= warmup) samples.push({ fromRequest: received - sent, fromResponse: received - responded });
    }
    subscription.dispose();
    return {
      samples,
      fromRequest: summarize(samples.map((s) => s.fromRequest)),
      fromResponse: summarize(samples.map((s) => s.fromResponse)),
    };
  } finally {
    await client.close();
  }
}
