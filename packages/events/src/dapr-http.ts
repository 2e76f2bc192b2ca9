import { DAPR_API_TOKEN_HEADER } from './dapr-app-token.js';
import type { DaprSidecarConfig } from './event-bus-options.js';

/** Base URL of the sidecar's HTTP API. */
export function daprBaseUrl(config: Pick<DaprSidecarConfig, 'host' | 'httpPort'>): string {
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return `http://${host}:${config.httpPort}`;
}

/** Response of a sidecar call, body read as text. */
export interface DaprResponse {
  status: number;
  text: string;
}

/** One HTTP call to the sidecar with a timeout (with `dapr-api-token` when set); rejects on network errors and timeouts. */
export async function callDapr(
  config: Pick<DaprSidecarConfig, 'host' | 'httpPort' | 'apiToken'>,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  options: { body?: string; contentType?: string; timeoutMs?: number; signal?: AbortSignal; headers?: Record<string, string> } = {},
): Promise<DaprResponse> {
  const response = await fetch(`${daprBaseUrl(config)}${path}`, {
    method,
    headers: {
      ...options.headers,
      ...(options.contentType ? { 'content-type': options.contentType } : {}),
      ...(config.apiToken ? { [DAPR_API_TOKEN_HEADER]: config.apiToken } : {}),
    },
    body: options.body,
    signal: options.signal
      ? AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs ?? 10_000)])
      : AbortSignal.timeout(options.timeoutMs ?? 10_000),
  });
  return { status: response.status, text: await response.text() };
}

/** True when the sidecar answers its outbound health check (components ready). */
export async function daprReachable(config: Pick<DaprSidecarConfig, 'host' | 'httpPort' | 'apiToken'>): Promise<boolean> {
  try {
    const { status } = await callDapr(config, 'GET', '/v1.0/healthz/outbound', { timeoutMs: 2_000 });
    return status >= 200 && status < 300;
  } catch {
    return false;
  }
}

export function requireDapr(dapr: DaprSidecarConfig | undefined): DaprSidecarConfig {
  if (!dapr) throw new Error('dapr mode needs the sidecar config (DAPR_HOST, DAPR_HTTP_PORT, DAPR_PUBSUB_NAME)');
  return dapr;
}
