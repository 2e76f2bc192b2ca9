/**
 * One GraphQL gateway in its own process, in front of subgraphs started elsewhere:
 *   ours   — `createGateway` (@taskgraph/gateway), as `npm start` runs it
 *   apollo — plain `@apollo/gateway` + `@apollo/server` `startStandaloneServer`, default settings;
 *            only a `RemoteGraphQLDataSource` that sends a fixed internal token (subgraphs need it)
 *   hive   — Hive Gateway's runtime (`@graphql-hive/gateway-runtime`), default settings plus the
 *            same fixed internal token via `propagateHeaders`
 * argv[2] = kind; env BENCH_GATEWAY = JSON `GatewayProcessConfig`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { createGatewayRuntime } from '@graphql-hive/gateway-runtime';
import { createGateway, type Gateway } from '@taskgraph/gateway';
import { INTERNAL_TOKEN_HEADER } from '@taskgraph/runtime';
import { testGatewayConfig } from '@taskgraph/testing';
import { serveParent } from '../lib/child.js';

export type GatewayKind = 'ours' | 'apollo' | 'hive';

export interface GatewayProcessConfig {
  supergraphPath: string;
  subgraphs: Record<string, string>;
  internalTokenSecret: string;
  /** A long-lived internal token for the benchmark user (plain gateways cannot sign per caller). */
  internalToken: string;
  /** Overrides of our gateway's subscription options (fan-out benchmark). */
  subscriptions?: Record<string, number | boolean>;
}

interface Running {
  url: string;
  close(): Promise<void>;
  gateway?: Gateway;
}

const kind = process.argv[2] as GatewayKind;
// Hive's logger reads LOG_LEVEL too and rejects pino's `silent`.
if (kind === 'hive') delete process.env.LOG_LEVEL;
const config = JSON.parse(process.env.BENCH_GATEWAY ?? '{}') as GatewayProcessConfig;

async function startOurs(sdl: string): Promise<Running> {
  const gateway = await createGateway(
    testGatewayConfig({ kind: 'sdl', sdl }, config.subgraphs, {
      nodeEnv: 'production',
      internalTokenSecret: config.internalTokenSecret,
      ...(config.subscriptions ? { subscriptions: config.subscriptions } : {}),
    }),
  );
  return { url: gateway.url, close: () => gateway.close(), gateway };
}

async function startApollo(sdl: string): Promise<Running> {
  const token = config.internalToken;
  const server = new ApolloServer({
    gateway: new ApolloGateway({
      supergraphSdl: sdl,
      buildService: ({ url }) =>
        new RemoteGraphQLDataSource({
          url,
          willSendRequest({ request }) {
            request.http?.headers.set(INTERNAL_TOKEN_HEADER, token);
          },
        }),
    }),
  });
  const { url } = await startStandaloneServer(server, { listen: { host: '127.0.0.1', port: 0 } });
  return { url, close: () => server.stop() };
}

async function startHive(sdl: string): Promise<Running> {
  const token = config.internalToken;
  const runtime = createGatewayRuntime({
    supergraph: sdl,
    // Errors only, like the other two (its default `info` logs only at startup anyway).
    logging: 'error',
    propagateHeaders: { fromClientToSubgraphs: () => ({ [INTERNAL_TOKEN_HEADER]: token }) },
  });
  const server: Server = createServer(runtime);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await runtime.dispose();
    },
  };
}

await serveParent<Running>(
  async () => {
    const sdl = readFileSync(config.supergraphPath, 'utf8');
    if (kind === 'ours') return startOurs(sdl);
    if (kind === 'apollo') return startApollo(sdl);
    if (kind === 'hive') return startHive(sdl);
    throw new Error(`unknown gateway kind ${kind}`);
  },
  (running) => ({
    /** Memory after a full GC (the process runs with --expose-gc). */
    memory: () => {
      globalThis.gc?.();
      globalThis.gc?.();
      return process.memoryUsage();
    },
    stats: () => running.gateway?.subscriptions.stats(),
    /** Open file descriptors of this process (one per client connection, plus its own). */
    fds: () => readdirSync('/proc/self/fd').length,
  }),
  (running) => ({ url: running.url, pid: process.pid }),
  (running) => running.close(),
);
