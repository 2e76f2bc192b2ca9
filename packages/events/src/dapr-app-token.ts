import { createHash, timingSafeEqual } from 'node:crypto';
import { type HttpRoute, sendJson } from '@taskgraph/runtime';

/** Header daprd sends the app API token in (app → sidecar: `DAPR_API_TOKEN`; sidecar → app: `APP_API_TOKEN`). */
export const DAPR_API_TOKEN_HEADER = 'dapr-api-token';

/**
 * Constant-time check of the `dapr-api-token` header against the expected app token. Both sides
 * are hashed first so neither the content nor the length of the expected token leaks through timing.
 */
export function daprAppTokenMatches(received: string | string[] | undefined, expected: string): boolean {
  if (typeof received !== 'string' || received.length === 0) return false;
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(received), digest(expected));
}

/**
 * Guards Dapr-facing routes with the app API token (Dapr docs, "Authenticate requests from Dapr
 * using token authentication"): when `appToken` is set, a request without the right
 * `dapr-api-token` header gets 401 and reaches no handler. daprd treats a non-2xx as retry, which
 * is right for a misconfigured token; a forged call changes nothing. Without `appToken` (local
 * development) the routes are returned as they are.
 */
export function requireDaprAppToken(routes: HttpRoute[], appToken: string | undefined): HttpRoute[] {
  if (!appToken) return routes;
  return routes.map((route) => ({
    ...route,
    handle: (request, res) => {
      if (!daprAppTokenMatches(request.raw.headers[DAPR_API_TOKEN_HEADER], appToken)) {
        sendJson(res, 401, { error: 'missing or invalid dapr-api-token' });
        return;
      }
      return route.handle(request, res);
    },
  }));
}
