import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { AppError, ErrorCode } from '@taskgraph/runtime';
import { GraphQLError } from 'graphql';

/**
 * Trusted documents (persisted operations, ARCHITECTURE §7): the operations `@taskgraph/client` was
 * generated from, registered by hash. `npm run codegen` writes the manifest
 * (`client/src/__generated__/persisted-documents.json`, sha256 hex → document text), committed.
 *
 * - A request may name a registered operation by hash with the standard persisted-query extension
 *   `extensions.persistedQuery = { version: 1, sha256Hash }` (Apollo APQ shape), over HTTP and in a
 *   graphql-ws `subscribe` payload (there with `query: ""`, graphql-ws requires a string).
 * - `enforce`: only registered operations execute. A hash not in the manifest →
 *   `PERSISTED_QUERY_NOT_FOUND`; query text whose sha256 is not registered →
 *   `PERSISTED_QUERY_NOT_IN_LIST` (HTTP 403). Nothing is parsed, planned or fetched.
 * - `allow` (development default): registered hashes resolve, unknown hashes answer
 *   `PERSISTED_QUERY_NOT_FOUND` (the client then sends the text, as APQ clients do), text runs.
 *   Clients cannot register new hashes (the manifest is the only source).
 */
export interface TrustedDocuments {
  /** sha256 hex of a document's exact text → that text. */
  readonly manifest: ReadonlyMap<string, string>;
  /** Only registered documents execute. */
  readonly enforce: boolean;
}

/** Where `npm run codegen` writes the manifest, relative to the repository root. */
export const DEFAULT_TRUSTED_DOCUMENTS_PATH = 'client/src/__generated__/persisted-documents.json';

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
const HASH = /^[0-9a-f]{64}$/;

/**
 * Reads a manifest: a JSON object of sha256 hex (optionally `sha256:`-prefixed, the GraphQL over
 * HTTP persisted-documents form) → document text. Every entry's hash must match its text, so a
 * hand-edited manifest cannot smuggle an operation under another operation's hash.
 */
export function loadTrustedDocumentsManifest(path: string): Map<string, string> {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${path}: expected an object of hash → document`);
  const manifest = new Map<string, string>();
  for (const [key, text] of Object.entries(raw)) {
    const hash = key.replace(/^sha256:/, '');
    if (typeof text !== 'string' || !HASH.test(hash) || sha256(text) !== hash) {
      throw new Error(`${path}: entry ${key.slice(0, 80)} is not sha256(document)`);
    }
    manifest.set(hash, text);
  }
  return manifest;
}

/** The manifest at `path` when the file exists (development fallback), else undefined. */
export function loadTrustedDocumentsIfPresent(path: string, enforce: boolean): TrustedDocuments | undefined {
  return existsSync(path) ? { manifest: loadTrustedDocumentsManifest(path), enforce } : undefined;
}

/** What a request carries: text and/or the persisted-query extension. */
export interface DocumentRequest {
  query?: string | undefined;
  extensions?: Record<string, unknown> | undefined;
}

/** `extensions.persistedQuery.sha256Hash` when present (any shape; Apollo validates the version). */
export function persistedHash(request: DocumentRequest): string | undefined {
  const persisted = request.extensions?.persistedQuery as { sha256Hash?: unknown } | undefined;
  return typeof persisted?.sha256Hash === 'string' ? persisted.sha256Hash : undefined;
}

export const notFound = () =>
  new AppError(ErrorCode.PERSISTED_QUERY_NOT_FOUND, 'PersistedQueryNotFound: this hash is not a registered operation; send the query text');
export const notInList = () =>
  new AppError(
    ErrorCode.PERSISTED_QUERY_NOT_IN_LIST,
    'This gateway only executes registered operations (trusted documents); this one is not in the list',
  );

/**
 * The document text a request executes, or the coded refusal. `query` empty counts as absent
 * (graphql-ws payloads that send only the hash).
 */
export function resolveDocument(trusted: TrustedDocuments | undefined, request: DocumentRequest): string | AppError {
  const query = request.query ? request.query : undefined;
  const hash = persistedHash(request);
  if (hash !== undefined) {
    const registered = trusted?.manifest.get(hash);
    if (registered !== undefined) return registered;
    if (query === undefined) return notFound();
    if (trusted?.enforce) return notInList();
    return query;
  }
  if (query === undefined) return new AppError(ErrorCode.BAD_REQUEST, 'Send a `query` or a `persistedQuery` extension');
  if (trusted?.enforce && !trusted.manifest.has(sha256(query))) return notInList();
  return query;
}

const HTTP_STATUS: Record<string, number> = {
  [ErrorCode.PERSISTED_QUERY_NOT_IN_LIST]: 403,
  [ErrorCode.PERSISTED_QUERY_NOT_FOUND]: 200,
  [ErrorCode.BAD_REQUEST]: 400,
};

/** The refusal as Apollo Server expects it thrown from a plugin hook (coded, with its HTTP status). */
export function refusal(error: AppError): GraphQLError {
  return new GraphQLError(error.message, {
    originalError: error,
    extensions: { code: error.code, http: { status: HTTP_STATUS[error.code] ?? 400 } },
  });
}

/**
 * Apollo Server's persisted-query cache backed by the manifest (lookups only: `set` is a no-op, so
 * no client can register an operation). Apollo answers an unknown hash with PERSISTED_QUERY_NOT_FOUND.
 */
export function manifestCache(trusted: TrustedDocuments | undefined) {
  return {
    get: async (key: string) => trusted?.manifest.get(key.replace(/^apq:/, '')),
    set: async () => {},
    delete: async () => true,
  };
}

/**
 * Enforce mode over HTTP, called while building the request context — before Apollo parses
 * anything, so an unregistered operation gets no parse or validation message (which would let a
 * caller probe the schema). Throws the coded refusal. Queries and mutations over WebSocket are
 * checked by the subscription policy instead.
 */
export function checkTrustedRequest(trusted: TrustedDocuments | undefined, request: { query?: unknown; extensions?: unknown }): void {
  if (!trusted?.enforce) return;
  const extensions =
    typeof request.extensions === 'object' && request.extensions !== null ? (request.extensions as Record<string, unknown>) : undefined;
  const resolved = resolveDocument(trusted, { query: typeof request.query === 'string' ? request.query : undefined, extensions });
  if (resolved instanceof AppError) throw refusal(resolved);
}
