import { AppError } from '@taskgraph/runtime';
import { GraphQLError } from 'graphql';
import { resolveDocument, type TrustedDocuments } from '../../trusted-documents.js';
import type { SubscriptionPolicy } from './policy.js';

/**
 * Trusted documents over graphql-ws (gateway/src/trusted-documents.ts): a `subscribe` payload may
 * carry `extensions.persistedQuery.sha256Hash` instead of text (`query: ""`). This policy puts the
 * registered text into `payload.query` before the core parses it (the one policy that rewrites the
 * payload, so it must run before any policy reading `query`), and in enforce mode refuses
 * unregistered operations with PERSISTED_QUERY_NOT_IN_LIST / PERSISTED_QUERY_NOT_FOUND.
 */
export function trustedDocumentsPolicy(trusted: TrustedDocuments | undefined): SubscriptionPolicy {
  return {
    name: 'trusted-documents',
    onSubscribe(_connection, _id, payload) {
      const resolved = resolveDocument(trusted, payload as { query?: string; extensions?: Record<string, unknown> });
      if (resolved instanceof AppError)
        return [new GraphQLError(resolved.message, { originalError: resolved, extensions: { code: resolved.code } })];
      (payload as { query: string }).query = resolved;
      return undefined;
    },
  };
}
