import { type GraphQLDataSourceProcessOptions, RemoteGraphQLDataSource } from '@apollo/gateway';
import { AppError, ErrorCode, INTERNAL_TOKEN_HEADER, type InternalTokenSigner, type Logger, traceHeaders } from '@taskgraph/runtime';
import type { InFlightReads } from './in-flight-reads.js';
import { type SubgraphAnswer, type SubgraphHttpClient, SubgraphTimeoutError } from './subgraph-http.js';

export { createSubgraphHttpClient, DEFAULT_SUBGRAPH_TIMEOUT_MS, type SubgraphHttpClient } from './subgraph-http.js';

type Response = Awaited<ReturnType<RemoteGraphQLDataSource['process']>>;

/** Per-request state of the gateway: the verified caller. */
export type GatewayContext = { userId: string };

/**
 * Identity the gateway uses for its own calls (schema loading, health checks); it owns no data,
 * so a subgraph scoping by caller returns nothing for it.
 */
export const GATEWAY_SYSTEM_USER = 'system:gateway';

/** Client headers that must never reach a subgraph (ARCHITECTURE §7: subgraphs trust only the internal token). */
const STRIPPED_HEADERS = new Set([
  'authorization',
  'cookie',
  'proxy-authorization',
  INTERNAL_TOKEN_HEADER,
  'content-type',
  'content-length',
  // The subgraph continues the gateway's span, never a context the client made up.
  'traceparent',
  'tracestate',
]);

export interface SubgraphDataSourceOptions {
  name: string;
  url: string;
  signer: InternalTokenSigner;
  http: SubgraphHttpClient;
  /** Shared by all data sources of one gateway: identical reads of one user in flight are sent once. */
  reads: InFlightReads<SubgraphAnswer>;
  logger: Logger;
}

/**
 * Calls one subgraph on behalf of the verified caller: every fetch carries a short-lived internal
 * token for that user in `x-taskgraph-internal`, never the client's own credentials (ARCHITECTURE §7).
 *
 * `process` is Apollo's contract (`GraphQLDataSource`); it is implemented here instead of
 * `RemoteGraphQLDataSource`'s node-fetch path, which built WHATWG Headers and Request objects per
 * fetch: undici, one header object, and identical reads of a user shared while in flight.
 */
export class SubgraphDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  readonly name: string;
  private readonly signer: InternalTokenSigner;
  private readonly http: SubgraphHttpClient;
  private readonly reads: InFlightReads<SubgraphAnswer>;
  private readonly log: Logger;

  constructor(options: SubgraphDataSourceOptions) {
    super({ url: options.url });
    this.name = options.name;
    this.signer = options.signer;
    this.http = options.http;
    this.reads = options.reads;
    this.log = options.logger;
  }

  override async process(options: GraphQLDataSourceProcessOptions<GatewayContext>): Promise<Response> {
    const { request } = options;
    if (!request.query) throw new Error('Missing query');
    // Only client operations carry `incomingRequestContext` (the kind enum is not exported).
    const incoming = 'incomingRequestContext' in options ? options : undefined;
    const userId = incoming ? incoming.context.userId : GATEWAY_SYSTEM_USER;
    // The context function rejects unauthenticated requests, so this is a programming error.
    if (!userId) throw new AppError(ErrorCode.UNAUTHENTICATED, 'Authentication required');
    const headers: Record<string, string> = {};
    if (request.http?.headers) {
      for (const [name, value] of request.http.headers) if (!STRIPPED_HEADERS.has(name.toLowerCase())) headers[name] = value;
    }
    headers['content-type'] = 'application/json';
    headers[INTERNAL_TOKEN_HEADER] = await this.signer.tokenFor(userId);
    // The gateway's fetch span (Apollo's `gateway.fetch`, active here) continues in the subgraph.
    Object.assign(headers, traceHeaders());
    const body = JSON.stringify({
      query: request.query,
      variables: request.variables,
      operationName: request.operationName,
      extensions: request.extensions,
    });
    const send = () => this.http.post(this.url!, headers, body);
    let answer: SubgraphAnswer;
    try {
      const operation = incoming?.incomingRequestContext.operation?.operation;
      if (operation === 'query') {
        answer = await this.reads.read(userId, `${this.name}\u0000${body}`, send);
      } else if (operation === 'mutation') {
        this.reads.noteWrite(userId);
        try {
          answer = await send();
        } finally {
          this.reads.noteWrite(userId);
        }
      } else {
        answer = await send();
      }
    } catch (error) {
      throw this.transportError(error);
    }
    return this.responseOf(answer);
  }

  /** A timeout is UPSTREAM_TIMEOUT, anything else on the way (refused, reset) UNAVAILABLE; no URLs or bodies. */
  private transportError(error: unknown): AppError {
    if (error instanceof SubgraphTimeoutError) {
      this.log.warn({ subgraph: this.name, timeoutMs: error.timeoutMs }, 'subgraph timed out');
      return new AppError(ErrorCode.UPSTREAM_TIMEOUT, `Service "${this.name}" did not answer in time`, { service: this.name });
    }
    this.log.warn({ subgraph: this.name, err: error instanceof Error ? error.message : String(error) }, 'subgraph unavailable');
    return new AppError(ErrorCode.UNAVAILABLE, `Service "${this.name}" is unavailable`, { service: this.name });
  }

  /**
   * The subgraph's GraphQL response, parsed for this caller alone (Apollo's executor merges later
   * fetches' data into it). A 5xx is UNAVAILABLE; a 400 carrying BAD_USER_INPUT (variables the
   * subgraph refused: custom scalars are opaque to the gateway) is the client's mistake, reported
   * as such; any other status or a non-JSON body is a gateway fault (e.g. a 401 meaning the
   * internal-token secrets disagree), logged here and masked for the client.
   */
  private responseOf(answer: SubgraphAnswer): Response {
    const json = /^application\/(graphql-response\+)?json/.test(answer.contentType) ? parseJson(answer.text) : undefined;
    if (answer.status >= 200 && answer.status < 300 && isObject(json)) return json as Response;
    if (answer.status === 400) {
      const rejected = rejectedInput(json);
      if (rejected) throw rejected;
    }
    if (answer.status >= 500) {
      this.log.warn({ subgraph: this.name, status: answer.status }, 'subgraph unavailable');
      throw new AppError(ErrorCode.UNAVAILABLE, `Service "${this.name}" is unavailable`, { service: this.name });
    }
    this.log.error({ subgraph: this.name, status: answer.status }, 'subgraph refused the gateway');
    throw new Error(`subgraph ${this.name} answered HTTP ${answer.status}`);
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The subgraph's BAD_USER_INPUT error of a 400 answer, if that is what it was. */
function rejectedInput(body: unknown): AppError | undefined {
  const first = (body as { errors?: { message?: unknown; extensions?: { code?: unknown } }[] } | undefined)?.errors?.[0];
  if (first?.extensions?.code !== ErrorCode.BAD_USER_INPUT || typeof first.message !== 'string') return undefined;
  return new AppError(ErrorCode.BAD_USER_INPUT, first.message.slice(0, 500));
}
