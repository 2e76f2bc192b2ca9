import {
  DEFAULT_JWT_AUDIENCE,
  DEFAULT_JWT_ISSUER,
  DEFAULT_LIMITS,
  DEV_JWT_SECRET,
  type GatewayConfig,
  type SupergraphSource,
  TEST_FAIRNESS,
} from '@taskgraph/gateway';
import { DEV_INTERNAL_TOKEN_SECRET } from '@taskgraph/runtime';

/**
 * A gateway config for tests and the one-process launcher: port 0, dev secrets, given subgraphs,
 * per-user fairness limits off (`TEST_FAIRNESS`, so the suite's own load is never refused) unless
 * `overrides.protection` sets them; demand control as in production.
 */
export function testGatewayConfig(
  supergraph: SupergraphSource,
  subgraphs: Record<string, string>,
  overrides: Partial<GatewayConfig> = {},
): GatewayConfig {
  return {
    nodeEnv: 'test',
    host: '127.0.0.1',
    port: 0,
    logLevel: process.env.LOG_LEVEL ?? 'silent',
    jwt: { secret: DEV_JWT_SECRET, issuer: DEFAULT_JWT_ISSUER, audience: DEFAULT_JWT_AUDIENCE },
    internalTokenSecret: DEV_INTERNAL_TOKEN_SECRET,
    subgraphs,
    supergraph,
    limits: { ...DEFAULT_LIMITS },
    ...overrides,
    protection: { ...TEST_FAIRNESS, ...overrides.protection },
  };
}
