import http from 'node:http';
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

/**
 * Keep-alive connections to the sidecar (loopback): a relay publishing one request per event reuses
 * them instead of opening a socket per call. Plain `node:http` rather than `fetch`: undici's web
 * streams and `AbortSignal.any` cost the relay more CPU per publish than the publish itself.
 */
const sidecarAgent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/** One HTTP call to the sidecar with a timeout (with `dapr-api-token` when set); rejects on network errors and timeouts. */
export function callDapr(
  config: Pick<DaprSidecarConfig, 'host' | 'httpPort' | 'apiToken'>,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  options: { body?: string; contentType?: string; timeoutMs?: number; signal?: AbortSignal; headers?: Record<string, string> } = {},
): Promise<DaprResponse> {
  const { signal, body } = options;
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise<DaprResponse>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason ?? new Error('aborted'));
      return;
    }
    const headers: Record<string, string | number> = {
      ...options.headers,
      ...(options.contentType ? { 'content-type': options.contentType } : {}),
      ...(config.apiToken ? { [DAPR_API_TOKEN_HEADER]: config.apiToken } : {}),
      ...(body !== undefined ? { 'content-length': Buffer.byteLength(body) } : {}),
    };
    let settled = false;
    const finish = (error: unknown, response?: DaprResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve(response!);
    };
    const request = http.request(`${daprBaseUrl(config)}${path}`, { method, headers, agent: sidecarAgent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => finish(undefined, { status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (error) => finish(error));
      res.on('aborted', () => finish(new Error(`sidecar ${method} ${path}: response aborted`)));
    });
    const onAbort = () => {
      finish(signal?.reason ?? new Error('aborted'));
      request.destroy();
    };
    const timer = setTimeout(() => {
      finish(new Error(`sidecar ${method} ${path}: no answer within ${timeoutMs} ms`));
      request.destroy();
    }, timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    request.on('error', (error) => finish(error));
    request.end(body);
  });
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
