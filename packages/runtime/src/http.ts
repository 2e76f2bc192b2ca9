import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ApolloServer, type BaseContext, HeaderMap } from '@apollo/server';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

/** A check `/readyz` runs; `detail` is reported as-is. */
export interface ReadinessCheck {
  name: string;
  check(): Promise<{ ok: boolean; detail?: unknown }>;
}

/** Plain HTTP route for non-GraphQL endpoints (Dapr callbacks, health). */
export interface HttpRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Exact path, or a RegExp whose groups become `params`. */
  path: string | RegExp;
  handle(request: RouteRequest, res: ServerResponse): Promise<void> | void;
}

export interface RouteRequest {
  readonly raw: IncomingMessage;
  readonly body: Buffer;
  readonly params: readonly string[];
  readonly url: URL;
}

export interface GraphQLMount<TContext extends BaseContext> {
  server: ApolloServer<TContext>;
  context(req: IncomingMessage): Promise<TContext>;
  path?: string;
}

export interface HttpServiceOptions<TContext extends BaseContext> {
  name: string;
  host: string;
  port: number;
  logger: Logger;
  metrics: Metrics;
  readiness: ReadinessCheck[];
  routes?: HttpRoute[];
  graphql?: GraphQLMount<TContext>;
  /** Requests larger than this are refused with 413 (default 1 MiB). */
  maxBodyBytes?: number;
}

export interface HttpService {
  readonly server: Server;
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export class BodyTooLargeError extends Error {}

/** Reads a request body, refusing more than `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new BodyTooLargeError(`body exceeds ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLargeError(`body exceeds ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Runs every readiness check and reports `{ ok, checks }`. */
export async function runReadiness(checks: ReadinessCheck[]): Promise<{ ok: boolean; checks: Record<string, unknown> }> {
  const results = await Promise.all(
    checks.map(async (c) => {
      try {
        return [c.name, await c.check()] as const;
      } catch (error) {
        return [c.name, { ok: false, detail: String(error) }] as const;
      }
    }),
  );
  return { ok: results.every(([, r]) => r.ok), checks: Object.fromEntries(results) };
}

async function handleGraphQL<TContext extends BaseContext>(
  mount: GraphQLMount<TContext>,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  body: Buffer,
): Promise<void> {
  const headers = new HeaderMap();
  for (const [key, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
  }
  let parsed: unknown;
  if (req.method === 'POST' && body.length > 0) {
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      sendJson(res, 400, { errors: [{ message: 'Request body is not valid JSON', extensions: { code: 'BAD_REQUEST' } }] });
      return;
    }
  }
  const response = await mount.server.executeHTTPGraphQLRequest({
    httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body: parsed },
    context: () => mount.context(req),
  });
  for (const [key, value] of response.headers) res.setHeader(key, value);
  res.statusCode = response.status ?? 200;
  if (response.body.kind === 'complete') {
    res.end(response.body.string);
    return;
  }
  for await (const chunk of response.body.asyncIterator) res.write(chunk);
  res.end();
}

/**
 * Starts the service's HTTP server: `/healthz`, `/readyz`, `/metrics`, GraphQL and extra routes.
 * Port 0 picks a free port (tests).
 */
export async function startHttpService<TContext extends BaseContext>(options: HttpServiceOptions<TContext>): Promise<HttpService> {
  const maxBody = options.maxBodyBytes ?? 1024 * 1024;
  const gqlPath = options.graphql?.path ?? '/graphql';
  const server = createServer(async (req, res) => {
    const started = process.hrtime.bigint();
    const url = new URL(req.url ?? '/', 'http://localhost');
    let route = 'other';
    try {
      if (req.method === 'GET' && url.pathname === '/healthz') {
        route = '/healthz';
        sendJson(res, 200, { ok: true, service: options.name });
      } else if (req.method === 'GET' && url.pathname === '/readyz') {
        route = '/readyz';
        const report = await runReadiness(options.readiness);
        sendJson(res, report.ok ? 200 : 503, { service: options.name, ...report });
      } else if (req.method === 'GET' && url.pathname === '/metrics') {
        route = '/metrics';
        const text = await options.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': options.metrics.registry.contentType });
        res.end(text);
      } else if (options.graphql && url.pathname === gqlPath) {
        route = gqlPath;
        const body = await readBody(req, maxBody);
        await handleGraphQL(options.graphql, req, res, url, body);
      } else {
        const match = findRoute(options.routes ?? [], req.method ?? 'GET', url.pathname);
        if (!match) {
          sendJson(res, 404, { error: 'not found' });
        } else {
          route = typeof match.route.path === 'string' ? match.route.path : match.route.path.source;
          const body = await readBody(req, maxBody);
          await match.route.handle({ raw: req, body, params: match.params, url }, res);
        }
      }
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        if (!res.headersSent) sendJson(res, 413, { errors: [{ message: error.message, extensions: { code: 'BAD_REQUEST' } }] });
      } else {
        options.logger.error({ err: error, path: url.pathname }, 'request failed');
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
        else res.end();
      }
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      options.metrics.httpDuration.observe({ route, method: req.method ?? 'GET', status: String(res.statusCode) }, seconds);
    }
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolveListen());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`;
  return {
    server,
    url,
    port,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 2_000).unref();
      }),
  };
}

function findRoute(routes: HttpRoute[], method: string, path: string): { route: HttpRoute; params: string[] } | undefined {
  for (const route of routes) {
    if (route.method !== method) continue;
    if (typeof route.path === 'string') {
      if (route.path === path) return { route, params: [] };
    } else {
      const m = route.path.exec(path);
      if (m) return { route, params: m.slice(1).map((p) => decodeURIComponent(p ?? '')) };
    }
  }
  return undefined;
}
