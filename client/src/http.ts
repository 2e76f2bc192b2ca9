import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { DocumentNode, FormattedExecutionResult } from 'graphql';
import { operationName, persistedHash, persistedQueryExtension, printed } from './documents.js';
import { ClientErrorCode, clientError, TaskgraphError } from './errors.js';

/** Options of one HTTP call. */
export interface RequestOptions {
  /** Aborts the request (the promise rejects with NETWORK_ERROR). */
  signal?: AbortSignal;
}

export interface HttpTransport {
  url: string;
  fetch: typeof globalThis.fetch;
  authorization(): Promise<string>;
  /** Send registered documents by hash only (trusted documents), falling back to text on PERSISTED_QUERY_NOT_FOUND. */
  persistedDocuments: boolean;
}

/**
 * POSTs one operation (GraphQL over HTTP, JSON) and returns its `data`. Any GraphQL error — also
 * beside partial data — rejects with a `TaskgraphError` carrying every error and its `extensions.code`.
 */
export async function executeHttp<TData, TVariables>(
  transport: HttpTransport,
  document: TypedDocumentNode<TData, TVariables> | DocumentNode,
  variables: TVariables | undefined,
  options: RequestOptions = {},
): Promise<TData> {
  const hash = transport.persistedDocuments ? persistedHash(document) : undefined;
  if (hash !== undefined) {
    try {
      return await post<TData>(
        transport,
        { extensions: persistedQueryExtension(hash), operationName: operationName(document), variables: variables ?? {} },
        options,
      );
    } catch (error) {
      // A gateway that does not know this hash (an older manifest, allow mode): send the text, as
      // APQ clients do. In enforce mode the text is refused too, with PERSISTED_QUERY_NOT_IN_LIST.
      if (!(error instanceof TaskgraphError) || error.code !== 'PERSISTED_QUERY_NOT_FOUND') throw error;
    }
  }
  return post<TData>(transport, { query: printed(document), operationName: operationName(document), variables: variables ?? {} }, options);
}

async function post<TData>(transport: HttpTransport, payload: Record<string, unknown>, options: RequestOptions): Promise<TData> {
  const body = JSON.stringify(payload);
  let res: Response;
  try {
    res = await transport.fetch(transport.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        authorization: await transport.authorization(),
      },
      body,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (cause) {
    throw clientError(ClientErrorCode.NETWORK_ERROR, `Request to ${transport.url} failed: ${(cause as Error).message}`, { cause });
  }
  let result: FormattedExecutionResult<TData>;
  try {
    result = (await res.json()) as FormattedExecutionResult<TData>;
  } catch (cause) {
    throw clientError(ClientErrorCode.BAD_RESPONSE, `HTTP ${res.status}: the response is not GraphQL JSON`, { status: res.status, cause });
  }
  if (result.errors && result.errors.length > 0) throw new TaskgraphError(result.errors, { status: res.status, data: result.data });
  if (result.data == null) {
    throw clientError(ClientErrorCode.BAD_RESPONSE, `HTTP ${res.status}: the response has neither data nor errors`, { status: res.status });
  }
  return result.data;
}
