import { sleep } from '@taskgraph/events';
import { appTokenHeader, type DiscoveredSubscription } from './broker-double.js';

/**
 * Asks an app for its subscriptions (`GET {appUrl}/dapr/subscribe`, ARCHITECTURE §5), waiting for it to
 * listen the way daprd waits for its app; 404 means the app subscribes to nothing.
 */
export async function discoverSubscriptions(
  appUrl: string,
  timeoutMs: number,
  signal: AbortSignal,
  appToken?: string,
): Promise<DiscoveredSubscription[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(`${appUrl}/dapr/subscribe`, { headers: appTokenHeader(appToken), signal: AbortSignal.timeout(2_000) });
      if (response.status === 404) return [];
      if (response.ok) return parseSubscriptions(await response.json());
    } catch {
      // The app is not listening yet.
    }
    if (signal.aborted) throw new Error('sidecar closed');
    if (Date.now() > deadline) throw new Error(`app ${appUrl} did not answer GET /dapr/subscribe`);
    await sleep(20, signal);
  }
}

/** Reads the `/dapr/subscribe` answer (`routes.default`, or the v1 `route`). */
export function parseSubscriptions(json: unknown): DiscoveredSubscription[] {
  if (!Array.isArray(json)) throw new Error('GET /dapr/subscribe must answer a JSON array');
  return json.map((entry: Record<string, unknown>) => {
    const routes = entry.routes as { default?: unknown } | undefined;
    const route = typeof routes?.default === 'string' ? routes.default : typeof entry.route === 'string' ? entry.route : undefined;
    if (typeof entry.pubsubname !== 'string' || typeof entry.topic !== 'string' || !route) {
      throw new Error(`invalid subscription ${JSON.stringify(entry)}`);
    }
    return {
      pubsubname: entry.pubsubname,
      topic: entry.topic,
      route,
      deadLetterTopic: typeof entry.deadLetterTopic === 'string' ? entry.deadLetterTopic : undefined,
    };
  });
}
