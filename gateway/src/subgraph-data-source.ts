import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { type GraphQLDataSourceProcessOptions, RemoteGraphQLDataSource } from '@apollo/gateway';
import { AppError, ErrorCode, INTERNAL_TOKEN_HEADER, type InternalTokenSigner, type Logger } from '@taskgraph/runtime';
import fetch, { type RequestInit } from 'node-fetch';

type Fetcher = RemoteGraphQLDataSource['fetcher'];

/** Per-request state of the gateway: the verified caller. */
export type GatewayContext = { userId: string };

/**
 * Identity the gateway uses for its own calls (schema loading, health checks); it owns no data,
 * so a subgraph scoping by caller returns nothing for it.
 */
export const GATEWAY_SYSTEM_USER = 'system:gateway';

/** Client headers that must never reach a subgraph (ARCHITECTURE §7: subgraphs trust only the internal token). */
const STRIPPED_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];

/** A keep-alive HTTP client shared by every subgraph data source of one gateway. */
export interface SubgraphHttpClient {
  readonly fetcher: Fetcher;
  /** Closes pooled sockets (gateway shutdown). */
  destroy(): void;
}

export function createSubgraphHttpClient(timeoutMs = 30_000): SubgraphHttpClient {
  const httpAgent = new HttpAgent({ keepAlive: true, keepAliveMsecs: 1_000, maxSockets: 256, maxFreeSockets: 64, scheduling: 'lifo' });
  const httpsAgent = new HttpsAgent({ keepAlive: true, keepAliveMsecs: 1_000, maxSockets: 256, maxFreeSockets: 64, scheduling: 'lifo' });
  const fetcher = ((url: string, init?: RequestInit) =>
    fetch(url, {
      ...init,
      agent: (parsed: URL) => (parsed.protocol === 'https:' ? httpsAgent : httpAgent),
      signal: AbortSignal.timeout(timeoutMs) as RequestInit['signal'],
    })) as unknown as Fetcher;
  return {
    fetcher,
    destroy() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

export interface SubgraphDataSourceOptions {
  name: string;
  url: string;
  signer: InternalTokenSigner;
  http: SubgraphHttpClient;
  logger: Logger;
}

/**
 * Calls one subgraph on behalf of the verified caller: every fetch carries a short-lived internal
 * token for that user in `x-taskgraph-internal`, never the client's own credentials (ARCHITECTURE §7).
 */
export class SubgraphDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  readonly name: string;
  private readonly signer: InternalTokenSigner;
  private readonly log: Logger;

  constructor(options: SubgraphDataSourceOptions) {
    super({ url: options.url, fetcher: options.http.fetcher });
    this.name = options.name;
    this.signer = options.signer;
    this.log = options.logger;
  }

  override async willSendRequest(options: GraphQLDataSourceProcessOptions<GatewayContext>): Promise<void> {
    const headers = options.request.http?.headers;
    if (!headers) return;
    for (const header of STRIPPED_HEADERS) headers.delete(header);
    // Only client operations carry `incomingRequestContext` (the kind enum is not exported).
    const userId = 'incomingRequestContext' in options ? options.context.userId : GATEWAY_SYSTEM_USER;
    // The context function rejects unauthenticated requests, so this is a programming error.
    if (!userId) throw new AppError(ErrorCode.UNAUTHENTICATED, 'Authentication required');
    headers.set(INTERNAL_TOKEN_HEADER, await this.signer.tokenFor(userId));
  }

  /**
   * Subgraph transport failures become stable codes without internals (URLs, bodies): a refused
   * connection or 5xx is UNAVAILABLE; anything else (e.g. a 401 meaning the internal-token secrets
   * disagree) is a gateway fault, logged here and masked for the client.
   */
  override didEncounterError(error: Error, _request: unknown, response?: { status: number }): never {
    const rejected = response?.status === 400 ? rejectedInput(error) : undefined;
    if (rejected) throw rejected;
    if (!response || response.status >= 500) {
      this.log.warn({ subgraph: this.name, status: response?.status, err: error.message }, 'subgraph unavailable');
      throw new AppError(ErrorCode.UNAVAILABLE, `Service "${this.name}" is unavailable`, { service: this.name });
    }
    this.log.error({ subgraph: this.name, status: response.status, err: error.message }, 'subgraph refused the gateway');
    throw new Error(`subgraph ${this.name} answered HTTP ${response.status}`);
  }
}

/**
 * A subgraph answers HTTP 400 with BAD_USER_INPUT when the client's variables do not coerce there
 * (custom scalars such as DateTime are opaque to the gateway, so only the subgraph can refuse
 * them): that is the client's mistake, reported as such, not a gateway fault.
 */
function rejectedInput(error: Error): AppError | undefined {
  const body = (error as { extensions?: { response?: { body?: unknown } } }).extensions?.response?.body;
  const first = (body as { errors?: { message?: unknown; extensions?: { code?: unknown } }[] } | undefined)?.errors?.[0];
  if (first?.extensions?.code !== ErrorCode.BAD_USER_INPUT || typeof first.message !== 'string') return undefined;
  return new AppError(ErrorCode.BAD_USER_INPUT, first.message.slice(0, 500));
}
