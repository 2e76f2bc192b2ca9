import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  baseEnvShape,
  ConfigError,
  DEV_INTERNAL_TOKEN_SECRET,
  GATEWAY_SERVICE,
  localSubgraphUrl,
  parseEnv,
  portSchema,
  requireSecret,
  resolveAdminPort,
  SUBGRAPH_NAMES,
  SUBGRAPH_SERVICES,
  type SubgraphName,
} from '@taskgraph/runtime';
import { z } from 'zod';
import { DEFAULT_MAX_TOKEN_LIFETIME_SECONDS, type JwtConfig } from './auth.js';
import { DEFAULT_LIMITS, type QueryLimits } from './limits.js';
import { DEFAULT_PROTECTION, type ProtectionOptions } from './protection/options.js';
import type { SubscriptionOptions } from './subscriptions/options.js';
import { DEFAULT_TRUSTED_DOCUMENTS_PATH, loadTrustedDocumentsManifest, type TrustedDocuments } from './trusted-documents.js';

/** The subgraphs the gateway knows (names, ports and URL variables come from the service registry, CONVENTIONS §16). */
export type KnownSubgraph = SubgraphName;
export const KNOWN_SUBGRAPHS: readonly KnownSubgraph[] = SUBGRAPH_NAMES;

/**
 * HS256 secret accepted in development and test only, so `npm start` + `npm run token` work on
 * a fresh clone. `scripts/token.mjs` carries the same value (kept in sync by a test).
 */
export const DEV_JWT_SECRET = 'taskgraph-dev-jwt-secret-do-not-use-in-prod';
export const DEFAULT_JWT_ISSUER = 'taskgraph';
export const DEFAULT_JWT_AUDIENCE = 'taskgraph';

/** The repository root (this file lives in `gateway/src` or `gateway/dist`). */
export const repoRoot = (): string => resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEFAULT_SUPERGRAPH_PATH = 'schema/supergraph.graphql';

/** Where the gateway's supergraph comes from (ARCHITECTURE §6). */
export type SupergraphSource =
  /** A composed supergraph file (`npm run compose`); the production path. */
  | { kind: 'file'; path: string }
  /** A supergraph SDL already in memory (tests, the one-process launcher). */
  | { kind: 'sdl'; sdl: string }
  /** Compose from the running subgraphs (IntrospectAndCompose); development only. */
  | { kind: 'live'; pollIntervalMs?: number };

/** Everything `createGateway` needs; build it with `loadGatewayConfig` (env) or `testGatewayConfig` (`@taskgraph/testing`). */
export interface GatewayConfig {
  nodeEnv: 'development' | 'test' | 'production';
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** `ADMIN_PORT`: /healthz, /readyz, /metrics off the public port (production default 9000); undefined: on `port`. */
  adminPort?: number;
  logLevel: string;
  jwt: JwtConfig;
  /** Signs the internal tokens subgraphs require (header `x-taskgraph-internal`). */
  internalTokenSecret: string;
  /**
   * Subgraph name → GraphQL endpoint. With a static supergraph these override the supergraph's
   * `join__graph` urls by name; in live mode they are the subgraphs composed.
   */
  subgraphs: Record<string, string>;
  supergraph: SupergraphSource;
  limits: QueryLimits;
  /**
   * Bound on every subgraph fetch (default 30 s, env `SUBGRAPH_TIMEOUT_MS`): the response must start
   * within it and its body never stall longer. Past it the fetch is abandoned and its fields get an
   * `UPSTREAM_TIMEOUT` error; the rest of the result is still returned where the schema allows.
   */
  subgraphTimeoutMs?: number;
  /**
   * Demand control and per-user fairness (gateway/src/protection); unset values take
   * `DEFAULT_PROTECTION` (`reportCost`: development only).
   */
  protection?: Partial<ProtectionOptions>;
  /** Federated subscription tunables (buffers, keep-alive); defaults in `DEFAULT_SUBSCRIPTION_OPTIONS`. */
  subscriptions?: Partial<SubscriptionOptions>;
  /**
   * Trusted documents (gateway/src/trusted-documents.ts). Unset: outside production the committed
   * manifest (`DEFAULT_TRUSTED_DOCUMENTS_PATH`) in allow mode; in production none (text only).
   */
  trustedDocuments?: TrustedDocuments;
}

function positive(fallback: number) {
  return z.coerce.number().positive().default(fallback);
}

const gatewayEnvShape = {
  NODE_ENV: baseEnvShape.NODE_ENV,
  HOST: baseEnvShape.HOST,
  LOG_LEVEL: baseEnvShape.LOG_LEVEL,
  INTERNAL_TOKEN_SECRET: baseEnvShape.INTERNAL_TOKEN_SECRET,
  PORT: portSchema(GATEWAY_SERVICE.port),
  ADMIN_PORT: baseEnvShape.ADMIN_PORT,
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  JWT_JWKS_URL: z.url({ protocol: /^https?$/ }).optional(),
  JWT_ISSUER: z.string().min(1).default(DEFAULT_JWT_ISSUER),
  JWT_AUDIENCE: z.string().min(1).default(DEFAULT_JWT_AUDIENCE),
  /** Longest accepted token lifetime (`exp - iat`), seconds; tokens without `exp` are always refused. */
  JWT_MAX_LIFETIME_SECONDS: z.coerce.number().int().positive().default(DEFAULT_MAX_TOKEN_LIFETIME_SECONDS),
  SUPERGRAPH_PATH: z.string().min(1).default(DEFAULT_SUPERGRAPH_PATH),
  SUBGRAPH_TIMEOUT_MS: z.coerce.number().int().min(1).max(600_000).optional(),
  /** `live` composes from running subgraphs (dev only); default: the static supergraph file. */
  GATEWAY_COMPOSE: z.enum(['static', 'live']).default('static'),
  /** Subgraphs composed in live mode (comma-separated). */
  GATEWAY_SUBGRAPHS: z.string().min(1).default(KNOWN_SUBGRAPHS.join(',')),
  /** Trusted documents manifest (hash → document, written by `npm run codegen`). */
  TRUSTED_DOCUMENTS_MANIFEST: z.string().min(1).optional(),
  /** `enforce`: only registered operations run; `allow`: registered hashes resolve, text runs too. */
  TRUSTED_DOCUMENTS: z.enum(['enforce', 'allow']).optional(),
  /** Demand control and per-user fairness (README "Limits"). */
  GATEWAY_MAX_COST: positive(DEFAULT_PROTECTION.maxCost),
  GATEWAY_MAX_SUBSCRIPTION_EVENT_COST: positive(DEFAULT_PROTECTION.maxSubscriptionEventCost),
  GATEWAY_RATE_LIMIT_PER_SECOND: positive(DEFAULT_PROTECTION.ratePerSecond),
  GATEWAY_RATE_LIMIT_BURST: positive(DEFAULT_PROTECTION.burst),
  GATEWAY_MAX_IN_FLIGHT_PER_USER: positive(DEFAULT_PROTECTION.maxInFlight),
  GATEWAY_MAX_SUBSCRIPTIONS_PER_USER: positive(DEFAULT_PROTECTION.maxSubscriptions),
  /** `true` adds `extensions.cost` to responses; default: in development only. */
  GATEWAY_REPORT_COST: z.enum(['true', 'false']).optional(),
} as const;

/** `SUBGRAPH_<NAME>_URL` per registered subgraph, defaulting to its local port. */
const subgraphUrlShape = Object.fromEntries(
  SUBGRAPH_NAMES.map((name) => [SUBGRAPH_SERVICES[name].urlEnv, z.url().default(localSubgraphUrl(name))]),
) as Record<(typeof SUBGRAPH_SERVICES)[SubgraphName]['urlEnv'], z.ZodDefault<z.ZodURL>>;

/**
 * Reads the gateway's environment once, failing fast with a message naming each bad variable
 * (CONVENTIONS §6). Secrets fall back to well-known dev values only outside production.
 */
export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const e = parseEnv({ ...gatewayEnvShape, ...subgraphUrlShape }, env);
  const production = e.NODE_ENV === 'production';
  const issues: string[] = [];
  if (production && !e.JWT_SECRET && !e.JWT_JWKS_URL) issues.push('JWT_JWKS_URL or JWT_SECRET: one is required when NODE_ENV=production');
  if (e.GATEWAY_COMPOSE === 'live' && production) issues.push('GATEWAY_COMPOSE: live composition is for development only');
  if (production && !e.INTERNAL_TOKEN_SECRET) issues.push('INTERNAL_TOKEN_SECRET: required when NODE_ENV=production');
  const live = e.GATEWAY_COMPOSE === 'live';
  const liveNames = e.GATEWAY_SUBGRAPHS.split(',').map((s) => s.trim());
  for (const name of liveNames) {
    if (!KNOWN_SUBGRAPHS.includes(name as KnownSubgraph)) issues.push(`GATEWAY_SUBGRAPHS: unknown subgraph "${name}"`);
  }
  if (e.TRUSTED_DOCUMENTS === 'enforce' && !e.TRUSTED_DOCUMENTS_MANIFEST && production) {
    issues.push('TRUSTED_DOCUMENTS: enforce needs TRUSTED_DOCUMENTS_MANIFEST in production');
  }
  if (issues.length > 0) throw new ConfigError(issues);

  const urls = Object.fromEntries(SUBGRAPH_NAMES.map((name) => [name, e[SUBGRAPH_SERVICES[name].urlEnv]])) as Record<KnownSubgraph, string>;
  const subgraphs = live ? Object.fromEntries(liveNames.map((name) => [name, urls[name as KnownSubgraph]])) : urls;
  return {
    nodeEnv: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    adminPort: resolveAdminPort(e.NODE_ENV, e.PORT, e.ADMIN_PORT),
    logLevel: e.LOG_LEVEL,
    jwt: {
      ...(e.JWT_JWKS_URL ? { jwksUrl: e.JWT_JWKS_URL } : { secret: e.JWT_SECRET ?? DEV_JWT_SECRET }),
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      maxLifetimeSeconds: e.JWT_MAX_LIFETIME_SECONDS,
    },
    internalTokenSecret: requireSecret('INTERNAL_TOKEN_SECRET', e.INTERNAL_TOKEN_SECRET, e.NODE_ENV, DEV_INTERNAL_TOKEN_SECRET),
    subgraphs,
    supergraph: live
      ? { kind: 'live', pollIntervalMs: 10_000 }
      : { kind: 'file', path: isAbsolute(e.SUPERGRAPH_PATH) ? e.SUPERGRAPH_PATH : resolve(repoRoot(), e.SUPERGRAPH_PATH) },
    limits: { ...DEFAULT_LIMITS },
    ...(e.SUBGRAPH_TIMEOUT_MS ? { subgraphTimeoutMs: e.SUBGRAPH_TIMEOUT_MS } : {}),
    ...trustedDocumentsFromEnv(e.TRUSTED_DOCUMENTS_MANIFEST, e.TRUSTED_DOCUMENTS, production),
    protection: {
      maxCost: e.GATEWAY_MAX_COST,
      maxSubscriptionEventCost: e.GATEWAY_MAX_SUBSCRIPTION_EVENT_COST,
      ratePerSecond: e.GATEWAY_RATE_LIMIT_PER_SECOND,
      burst: e.GATEWAY_RATE_LIMIT_BURST,
      maxInFlight: e.GATEWAY_MAX_IN_FLIGHT_PER_USER,
      maxSubscriptions: e.GATEWAY_MAX_SUBSCRIPTIONS_PER_USER,
      reportCost: e.GATEWAY_REPORT_COST === undefined ? e.NODE_ENV === 'development' : e.GATEWAY_REPORT_COST === 'true',
    },
  };
}

/**
 * Production default: enforce as soon as a manifest is configured. Elsewhere the committed manifest
 * is used in allow mode, so the dev page and typed client can send hashes against `npm start`.
 */
function trustedDocumentsFromEnv(
  manifestPath: string | undefined,
  mode: 'enforce' | 'allow' | undefined,
  production: boolean,
): Pick<GatewayConfig, 'trustedDocuments'> {
  const path = manifestPath ?? (production ? undefined : DEFAULT_TRUSTED_DOCUMENTS_PATH);
  if (!path) return {};
  const enforce = mode ? mode === 'enforce' : production;
  const absolute = isAbsolute(path) ? path : resolve(repoRoot(), path);
  try {
    return { trustedDocuments: { manifest: loadTrustedDocumentsManifest(absolute), enforce } };
  } catch (error) {
    if (!manifestPath && (error as NodeJS.ErrnoException).code === 'ENOENT') return {}; // no committed manifest in this image
    throw new ConfigError([`TRUSTED_DOCUMENTS_MANIFEST: ${(error as Error).message}`]);
  }
}
