import type { Logger } from '@taskgraph/runtime';
import { callDapr } from './dapr-http.js';
import type { DaprSidecarConfig } from './event-bus-options.js';

/**
 * Route prefix of Dapr's Jobs API: stable `v1.0` from Dapr 1.18 (which still serves the deprecated
 * alpha route), only `v1.0-alpha1` on 1.16–1.17 (the stable route is a 404 there).
 */
export type JobsApiVersion = 'v1.0' | 'v1.0-alpha1';

/** `DAPR_JOBS_API`: `auto` reads the sidecar's runtime version once; the others force a route. */
export type JobsApiSetting = 'auto' | JobsApiVersion;

/** First Dapr release with the stable Jobs API. */
export const STABLE_JOBS_API_SINCE = { major: 1, minor: 18 } as const;

/**
 * The Jobs route a daprd reporting `runtimeVersion` serves: `v1.0` on ≥ 1.18 (and on `edge`, a build
 * of Dapr's main branch), `v1.0-alpha1` below; undefined when the version is not recognisable.
 */
export function jobsApiForRuntime(runtimeVersion: string): JobsApiVersion | undefined {
  if (runtimeVersion === 'edge') return 'v1.0';
  const match = /^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?$/.exec(runtimeVersion.trim());
  if (!match) return undefined;
  const major = Number(match[1]);
  const minor = Number(match[2]);
  const stable = major > STABLE_JOBS_API_SINCE.major || (major === STABLE_JOBS_API_SINCE.major && minor >= STABLE_JOBS_API_SINCE.minor);
  return stable ? 'v1.0' : 'v1.0-alpha1';
}

/**
 * Picks the Jobs route once per process: a forced `setting` wins; `auto` asks the sidecar
 * (`GET /v1.0/metadata` → `runtimeVersion`, daprd's `buildinfo.Version()`). An unrecognisable version
 * falls back to the alpha route, which every release up to 1.18 serves. Rejects when the sidecar
 * cannot be asked (the caller retries the choice on its next call, never the job call itself).
 */
export async function resolveJobsApi(
  dapr: Pick<DaprSidecarConfig, 'host' | 'httpPort' | 'apiToken' | 'jobsApi'>,
  logger: Logger,
): Promise<JobsApiVersion> {
  const setting = dapr.jobsApi ?? 'auto';
  if (setting !== 'auto') {
    logger.info({ jobsApi: setting }, 'Dapr Jobs API route set by configuration');
    return setting;
  }
  const response = await callDapr(dapr, 'GET', '/v1.0/metadata', { timeoutMs: 5_000 });
  if (response.status !== 200)
    throw new Error(`reading the Dapr runtime version failed: HTTP ${response.status} ${response.text.slice(0, 200)}`);
  let runtimeVersion: unknown;
  try {
    runtimeVersion = (JSON.parse(response.text) as { runtimeVersion?: unknown }).runtimeVersion;
  } catch {
    runtimeVersion = undefined;
  }
  const chosen = typeof runtimeVersion === 'string' ? jobsApiForRuntime(runtimeVersion) : undefined;
  if (!chosen) {
    logger.warn({ runtimeVersion }, 'unrecognised Dapr runtime version: using the alpha Jobs API (set DAPR_JOBS_API to choose)');
    return 'v1.0-alpha1';
  }
  logger.info({ runtimeVersion, jobsApi: chosen }, 'Dapr Jobs API route chosen from the sidecar version');
  return chosen;
}
