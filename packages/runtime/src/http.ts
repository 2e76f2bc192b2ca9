import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ApolloServer, type BaseContext, HeaderMap } from '@apollo/server';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { contextFromHeaders, inSpan, SpanKind } from './tracing.js';

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
  /**
   * Builds the request's context; a thrown GraphQLError (with `extensions.http.status`) answers the
   * request before Apollo parses anything. `request` is the GraphQL request as sent: the parsed JSON
   * body of a POST, or the query-string parameters of a GET.
   */
  context(req: IncomingMessage, request: GraphQLRequestParams): Promise<TContext>;
  path?: string;
}

/** The GraphQL-over-HTTP request parameters before Apollo reads them (untrusted, unvalidated). */
export interface GraphQLRequestParams {
  query?: unknown;
  extensions?: unknown;
  operationName?: unknown;
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
  /**
   * The admin listener (`ADMIN_PORT`, ARCHITECTURE §8): when set, `/healthz`, `/readyz` and `/metrics` are
   * served only there, on `host`, and the public port answers them 404 (production: the Ingress and the
   * internet never reach them). Unset (development, tests): they are served on the public port.
   * `GET /dapr/healthz` stays on the public port either way: daprd's app health check can only probe the
   * app port (liveness only, no detail).
   */
  adminPort?: number;
}

export interface HttpService {
  readonly server: Server;
  readonly url: string;
  readonly port: number;
  /** Base URL of the admin listener (health, metrics), or `url` when they share the public port. */
  readonly adminUrl: string;
  close(): Promise<void>;
}

/** Paths served by the admin listener (or the public port when there is none). */
export const ADMIN_PATHS = ['/healthz', '/readyz', '/metrics'] as const;
/** Liveness path for daprd's app health check, always on the app (public) port. */
export const DAPR_APP_HEALTH_PATH = '/dapr/healthz';

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
    context: () => mount.context(req, requestParams(parsed, url)),
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

/** A route as a span name: `/events/:param` for `/^\/events\/([^/]+)$/` (low cardinality). */
const routeTemplate = (path: string | RegExp): string =>
  typeof path === 'string'
    ? path
    : path.source
        .replace(/^\^|\$$/g, '')
        .replace(/\\\//g, '/')
        .replace(/\([^)]*\)/g, ':param');

/** A SERVER span continuing the caller's trace (W3C `traceparent` header), e.g. gateway → subgraph, daprd → app. */
function serverSpan(req: IncomingMessage, path: string) {
  return {
    kind: SpanKind.SERVER,
    parent: contextFromHeaders(req.headers),
    attributes: { 'http.request.method': req.method ?? 'GET', 'url.path': path },
  };
}

function requestParams(body: unknown, url: URL): GraphQLRequestParams {
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) return body as GraphQLRequestParams;
  const extensions = url.searchParams.get('extensions');
  let parsedExtensions: unknown;
  try {
    parsedExtensions = extensions ? JSON.parse(extensions) : undefined;
  } catch {
    parsedExtensions = undefined; // Apollo answers malformed GET parameters itself
  }
  return { query: url.searchParams.get('query') ?? undefined, extensions: parsedExtensions };
}

/**
 * Starts the service's HTTP server: GraphQL, extra routes, `GET /dapr/healthz`, and `/healthz`, `/readyz`,
 * `/metrics` (on the admin listener when `adminPort` is set, else on the same port). Port 0 picks a free
 * port (tests).
 */
export async function startHttpService<TContext extends BaseContext>(options: HttpServiceOptions<TContext>): Promise<HttpService> {
  const maxBody = options.maxBodyBytes ?? 1024 * 1024;
  const gqlPath = options.graphql?.path ?? '/graphql';
  const split = options.adminPort !== undefined;
  /** Serves an admin path; false when `pathname` is not one. */
  const serveAdmin = async (req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> => {
    if (req.method !== 'GET') return false;
    if (pathname === '/healthz') sendJson(res, 200, { ok: true, service: options.name });
    else if (pathname === '/readyz') {
      const report = await runReadiness(options.readiness);
      sendJson(res, report.ok ? 200 : 503, { service: options.name, ...report });
    } else if (pathname === '/metrics') {
      const text = await options.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': options.metrics.registry.contentType });
      res.end(text);
    } else return false;
    return true;
  };
  const server = createServer(async (req, res) => {
    const started = process.hrtime.bigint();
    const url = new URL(req.url ?? '/', 'http://localhost');
    let route = 'other';
    try {
      if (!split && (await serveAdmin(req, res, url.pathname))) {
        route = url.pathname;
      } else if (req.method === 'GET' && url.pathname === DAPR_APP_HEALTH_PATH) {
        route = DAPR_APP_HEALTH_PATH;
        sendJson(res, 200, { ok: true });
      } else if (options.graphql && url.pathname === gqlPath) {
        route = gqlPath;
        const graphql = options.graphql;
        await inSpan(options.name, `${req.method ?? 'GET'} ${gqlPath}`, serverSpan(req, gqlPath), async (span) => {
          const body = await readBody(req, maxBody);
          await handleGraphQL(graphql, req, res, url, body);
          span.setAttribute('http.response.status_code', res.statusCode);
        });
      } else {
        const match = findRoute(options.routes ?? [], req.method ?? 'GET', url.pathname);
        if (!match) {
          sendJson(res, 404, { error: 'not found' });
        } else {
          route = typeof match.route.path === 'string' ? match.route.path : match.route.path.source;
          await inSpan(
            options.name,
            `${req.method ?? 'GET'} ${routeTemplate(match.route.path)}`,
            serverSpan(req, url.pathname),
            async (span) => {
              const body = await readBody(req, maxBody);
              await match.route.handle({ raw: req, body, params: match.params, url }, res);
              span.setAttribute('http.response.status_code', res.statusCode);
            },
          );
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
  await listen(server, options.port, options.host);
  const admin = split ? createServer((req, res) => void serveAdminRequest(req, res)) : undefined;
  async function serveAdminRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    try {
      if (!(await serveAdmin(req, res, pathname))) sendJson(res, 404, { error: 'not found' });
    } catch (error) {
      options.logger.error({ err: error, path: pathname }, 'admin request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
    }
  }
  if (admin) {
    try {
      await listen(admin, options.adminPort ?? 0, options.host);
    } catch (error) {
      server.close();
      throw error;
    }
  }
  const { port } = server.address() as AddressInfo;
  const base = (p: number) => `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${p}`;
  const url = base(port);
  return {
    server,
    url,
    port,
    adminUrl: admin ? base((admin.address() as AddressInfo).port) : url,
    close: async () => {
      await Promise.all([server, ...(admin ? [admin] : [])].map(closeServer));
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolveClose) => {
    server.close(() => resolveClose());
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 2_000).unref();
  });
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
