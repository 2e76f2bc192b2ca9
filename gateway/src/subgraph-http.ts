import { Agent, errors as undiciErrors } from 'undici';

/** Default bound on each subgraph fetch (see `SubgraphHttpClient.post`). */
export const DEFAULT_SUBGRAPH_TIMEOUT_MS = 30_000;

/** What a subgraph answered: status, content type and the body text, not parsed (see `post`). */
export interface SubgraphAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
}

/** A subgraph did not answer within the configured bound (→ `UPSTREAM_TIMEOUT`). */
export class SubgraphTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`subgraph did not answer within ${timeoutMs} ms`);
    this.name = 'SubgraphTimeoutError';
  }
}

/** The pooled keep-alive HTTP client shared by every subgraph data source of one gateway. */
export interface SubgraphHttpClient {
  /** Bound on each fetch, in ms. */
  readonly timeoutMs: number;
  /**
   * POSTs a GraphQL body. Rejects with `SubgraphTimeoutError` when the response headers do not
   * arrive within `timeoutMs`, or the body then stalls for `timeoutMs`; with the transport's error
   * when the subgraph cannot be reached.
   */
  post(url: string, headers: Record<string, string>, body: string): Promise<SubgraphAnswer>;
  /** Upstream requests sent (tests). */
  readonly stats: { sent: number };
  /** Closes pooled sockets (gateway shutdown). */
  close(): Promise<void>;
}

/**
 * undici's pooled keep-alive dispatcher: cheaper per request than node-fetch over `http.Agent`
 * (no WHATWG Request/Headers objects, no stream adapters), which was 5% of the gateway's CPU.
 */
export function createSubgraphHttpClient(timeoutMs = DEFAULT_SUBGRAPH_TIMEOUT_MS): SubgraphHttpClient {
  const agent = new Agent({ connections: 256, keepAliveTimeout: 10_000, pipelining: 1 });
  const stats = { sent: 0 };
  const targets = new Map<string, { origin: string; path: string }>();
  const target = (url: string) => {
    let known = targets.get(url);
    if (!known) {
      const parsed = new URL(url);
      known = { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
      targets.set(url, known);
    }
    return known;
  };

  const post = async (url: string, headers: Record<string, string>, body: string): Promise<SubgraphAnswer> => {
    stats.sent++;
    try {
      const { origin, path } = target(url);
      const response = await agent.request({
        origin,
        path,
        method: 'POST',
        headers,
        body,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const contentType = response.headers['content-type'];
      return {
        status: response.statusCode,
        contentType: typeof contentType === 'string' ? contentType : '',
        text: await response.body.text(),
      };
    } catch (error) {
      if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError) {
        throw new SubgraphTimeoutError(timeoutMs);
      }
      throw error;
    }
  };

  return { timeoutMs, stats, post, close: () => agent.close() };
}
