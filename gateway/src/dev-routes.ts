import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { type HttpRoute, sendJson } from '@taskgraph/runtime';
import { signDevToken } from './auth.js';
import { type GatewayConfig, repoRoot } from './config.js';

/** Where `npm run build:web -w @taskgraph/client` writes the dev web page. */
export const DEFAULT_WEB_ROOT = 'client/web/dist';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** A user id the dev token endpoint signs for. */
const DEV_USER = /^[A-Za-z0-9._@-]{1,64}$/;

/**
 * Development-only routes (never in production, CONVENTIONS §6):
 * - `GET /dev/token?user=alice` → `{ token, userId, expiresAt }`: a client JWT signed with the dev
 *   HS256 secret, so the web page can sign in as a dev user without holding the secret itself.
 *   Only when the gateway verifies with a shared secret (not a JWKS).
 * - `GET /app/…`: the static web page (`client/web`), same origin as `/graphql`.
 */
export function devRoutes(config: GatewayConfig, webRoot = resolve(repoRoot(), DEFAULT_WEB_ROOT)): HttpRoute[] {
  if (config.nodeEnv === 'production') return [];
  const routes: HttpRoute[] = [];
  const { secret, issuer, audience } = config.jwt;
  if (secret) {
    routes.push({
      method: 'GET',
      path: '/dev/token',
      handle: async ({ url }, res) => {
        const userId = url.searchParams.get('user') ?? '';
        if (!DEV_USER.test(userId)) {
          sendJson(res, 400, { error: 'user: 1-64 characters of A-Z a-z 0-9 . _ @ -' });
          return;
        }
        const ttlSeconds = 12 * 3600;
        const token = await signDevToken(userId, { secret, issuer, audience, ttlSeconds });
        res.setHeader('cache-control', 'no-store');
        sendJson(res, 200, { token, userId, expiresAt: new Date(Date.now() + ttlSeconds * 1000).toISOString() });
      },
    });
  }
  routes.push({
    method: 'GET',
    path: /^\/app(\/.*)?$/,
    handle: ({ params }, res) => {
      const rest = params[0] ?? '';
      if (rest === '') {
        res.writeHead(308, { location: '/app/' }).end();
        return;
      }
      const file = staticFile(webRoot, rest === '/' ? '/index.html' : rest);
      if (!file) {
        const hint = existsSync(webRoot) ? 'not found' : `no web build at ${webRoot}: run \`npm run build:web -w @taskgraph/client\``;
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(hint);
        return;
      }
      const body = readFileSync(file);
      res.writeHead(200, {
        'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
        'content-length': body.length,
        'cache-control': 'no-cache',
      });
      res.end(body);
    },
  });
  return routes;
}

/** The file under `root` for a URL path, or undefined (missing, a directory, or outside `root`). */
function staticFile(root: string, urlPath: string): string | undefined {
  const file = normalize(join(root, urlPath));
  if (!file.startsWith(root + sep)) return undefined;
  return existsSync(file) && statSync(file).isFile() ? file : undefined;
}
