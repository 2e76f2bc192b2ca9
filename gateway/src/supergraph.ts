import { existsSync, readFileSync } from 'node:fs';
import { IntrospectAndCompose, type SupergraphManager } from '@apollo/gateway';
import { ConfigError } from '@taskgraph/runtime';
import type { GatewayConfig } from './config.js';

/**
 * What `ApolloGateway` loads for a configured source: the SDL text (file, memory) or a manager
 * composing from the running subgraphs. Live composition introspects through the gateway's own
 * data sources (`buildService`), so its requests carry an internal token like every other call.
 */
export function supergraphFor(config: GatewayConfig): string | SupergraphManager {
  const source = config.supergraph;
  switch (source.kind) {
    case 'sdl':
      return source.sdl;
    case 'file':
      if (!existsSync(source.path)) {
        throw new ConfigError([
          `SUPERGRAPH_PATH: ${source.path} does not exist; run \`npm run compose\` or set GATEWAY_COMPOSE=live (development)`,
        ]);
      }
      return readFileSync(source.path, 'utf8');
    case 'live':
      if (config.nodeEnv === 'production') throw new ConfigError(['GATEWAY_COMPOSE: live composition is for development only']);
      return new IntrospectAndCompose({
        subgraphs: Object.entries(config.subgraphs).map(([name, url]) => ({ name, url })),
        ...(source.pollIntervalMs ? { pollIntervalInMs: source.pollIntervalMs } : {}),
      });
  }
}
