import { z } from 'zod';

/** Raised at startup when the environment is invalid; the message names every bad variable. */
export class ConfigError extends Error {
  constructor(readonly issues: readonly string[]) {
    super(`Invalid configuration:\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

export const nodeEnvSchema = z.enum(['development', 'test', 'production']).default('development');

/** Variables every service reads. */
export const baseEnvShape = {
  NODE_ENV: nodeEnvSchema,
  HOST: z.string().min(1).default('127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  DATA_DIR: z.string().min(1).default('.data'),
  EVENT_BUS: z.enum(['embedded', 'dapr']).default('embedded'),
  DAPR_HTTP_PORT: z.coerce.number().int().min(1).max(65535).default(3500),
  DAPR_HOST: z.string().min(1).default('127.0.0.1'),
  DAPR_PUBSUB_NAME: z.string().min(1).default('pubsub'),
  INTERNAL_TOKEN_SECRET: z.string().min(32).optional(),
  /** Token daprd sends the app in `dapr-api-token` (Dapr app API token); required in production with EVENT_BUS=dapr. */
  APP_API_TOKEN: z.string().min(1).optional(),
  /** Token the app sends daprd in `dapr-api-token` (Dapr API token), when the sidecar requires one. */
  DAPR_API_TOKEN: z.string().min(1).optional(),
  /** Dapr Jobs API route: `auto` (from the sidecar's runtime version: stable `v1.0` on ≥ 1.18), or forced. */
  DAPR_JOBS_API: z.enum(['auto', 'v1.0', 'v1.0-alpha1']).default('auto'),
  /** Admin listener for /healthz, /readyz, /metrics (`resolveAdminPort`); 0 picks a free port. */
  ADMIN_PORT: z.coerce.number().int().min(0).max(65535).optional(),
} as const;

/** In production the admin listener defaults to the service port + this (gateway 9000, tasks 9001, … sync 9004). */
export const ADMIN_PORT_OFFSET = 5000;

/**
 * The admin listener's port (health and metrics, never on the public port): `ADMIN_PORT` when set; in
 * production `port + ADMIN_PORT_OFFSET` (a free port when `port` is 0); otherwise undefined, and they stay
 * on the public port for convenience (development, tests).
 */
export function resolveAdminPort(nodeEnv: string, port: number, adminPort: number | undefined): number | undefined {
  if (adminPort !== undefined) {
    if (adminPort !== 0 && adminPort === port) throw new ConfigError([`ADMIN_PORT: must differ from PORT (${port})`]);
    return adminPort;
  }
  if (nodeEnv !== 'production') return undefined;
  if (port === 0) return 0;
  if (port + ADMIN_PORT_OFFSET > 65535) throw new ConfigError([`ADMIN_PORT: required when PORT + ${ADMIN_PORT_OFFSET} exceeds 65535`]);
  return port + ADMIN_PORT_OFFSET;
}

/** Secret used in development only; production must set INTERNAL_TOKEN_SECRET. */
export const DEV_INTERNAL_TOKEN_SECRET = 'taskgraph-dev-internal-secret-do-not-use-in-prod';

/**
 * Parses `env` against a zod shape and fails fast with a message naming each bad variable.
 * Env is read here and nowhere else in a service (CONVENTIONS §6).
 */
export function parseEnv<S extends z.ZodRawShape>(shape: S, env: NodeJS.ProcessEnv = process.env): z.infer<z.ZodObject<S>> {
  const cleaned: Record<string, string | undefined> = {};
  for (const key of Object.keys(shape)) {
    const value = env[key];
    cleaned[key] = value === '' ? undefined : value;
  }
  const result = z.object(shape).safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`));
  }
  return result.data;
}

/** Resolves a secret: required outside development, with a well-known dev default inside it. */
export function requireSecret(name: string, value: string | undefined, nodeEnv: string, devDefault: string): string {
  if (value) return value;
  if (nodeEnv === 'production') throw new ConfigError([`${name}: required when NODE_ENV=production`]);
  return devDefault;
}

/** Port: 0 picks a free port (tests). */
export const portSchema = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

/** Settings every service shares, parsed from env by `loadServiceConfig`. */
export interface ServiceConfig {
  nodeEnv: 'development' | 'test' | 'production';
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Health and metrics listener (`resolveAdminPort`); undefined: on `port`. */
  adminPort?: number;
  logLevel: string;
  /** Unset → the service starts embedded Postgres under `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  eventBus: 'embedded' | 'dapr';
  /**
   * Sidecar address and component, plus `apiToken` (`DAPR_API_TOKEN`, sent to the sidecar) and
   * `appToken` (`APP_API_TOKEN`, required from the sidecar on the Dapr routes).
   */
  dapr: {
    host: string;
    httpPort: number;
    pubsubName: string;
    apiToken?: string;
    appToken?: string;
    /** `DAPR_JOBS_API` (default `auto`). */
    jobsApi?: 'auto' | 'v1.0' | 'v1.0-alpha1';
  };
  internalTokenSecret: string;
}

/** Parses the shared service variables (with `PORT` defaulting to `defaultPort`). */
export function loadServiceConfig(defaultPort: number, env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  const parsed = parseEnv({ ...baseEnvShape, PORT: portSchema(defaultPort) }, env);
  // Without it anyone who reaches the pod's port could post forged events and job triggers.
  if (parsed.NODE_ENV === 'production' && parsed.EVENT_BUS === 'dapr' && !parsed.APP_API_TOKEN) {
    throw new ConfigError(['APP_API_TOKEN: required when NODE_ENV=production and EVENT_BUS=dapr']);
  }
  return {
    nodeEnv: parsed.NODE_ENV,
    host: parsed.HOST,
    port: parsed.PORT,
    adminPort: resolveAdminPort(parsed.NODE_ENV, parsed.PORT, parsed.ADMIN_PORT),
    logLevel: parsed.LOG_LEVEL,
    databaseUrl: parsed.DATABASE_URL,
    dataDir: parsed.DATA_DIR,
    eventBus: parsed.EVENT_BUS,
    dapr: {
      host: parsed.DAPR_HOST,
      httpPort: parsed.DAPR_HTTP_PORT,
      pubsubName: parsed.DAPR_PUBSUB_NAME,
      apiToken: parsed.DAPR_API_TOKEN,
      appToken: parsed.APP_API_TOKEN,
      jobsApi: parsed.DAPR_JOBS_API,
    },
    internalTokenSecret: requireSecret('INTERNAL_TOKEN_SECRET', parsed.INTERNAL_TOKEN_SECRET, parsed.NODE_ENV, DEV_INTERNAL_TOKEN_SECRET),
  };
}

/** A config for tests and the one-process launcher: port 0, a given database, embedded bus. */
export function testServiceConfig(databaseUrl: string, overrides: Partial<ServiceConfig> = {}): ServiceConfig {
  return {
    nodeEnv: 'test',
    host: '127.0.0.1',
    port: 0,
    logLevel: process.env.LOG_LEVEL ?? 'silent',
    databaseUrl,
    dataDir: '.data',
    eventBus: 'embedded',
    dapr: { host: '127.0.0.1', httpPort: 3500, pubsubName: 'pubsub' },
    internalTokenSecret: DEV_INTERNAL_TOKEN_SECRET,
    ...overrides,
  };
}
