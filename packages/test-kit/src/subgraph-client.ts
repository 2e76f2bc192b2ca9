import { DEV_INTERNAL_TOKEN_SECRET, INTERNAL_TOKEN_HEADER, signInternalToken } from '@taskgraph/runtime';

/** A GraphQL response as a subgraph sends it. */
// biome-ignore lint/suspicious/noExplicitAny: test responses are checked by the assertions
export interface GqlResult<T = Record<string, any>> {
  data?: T;
  errors?: { message: string; extensions?: { code?: string; field?: string } }[];
}

/**
 * POSTs `query` to a subgraph's GraphQL `url` as the gateway does: with an internal token for `user`
 * signed with the development secret (what `testServiceConfig` configures), or with no token when
 * `user` is null.
 */
// biome-ignore lint/suspicious/noExplicitAny: test responses are checked by the assertions
export async function callSubgraph<T = Record<string, any>>(
  url: string,
  user: string | null,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GqlResult<T>> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (user) headers[INTERNAL_TOKEN_HEADER] = await signInternalToken(user, DEV_INTERNAL_TOKEN_SECRET);
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  return (await res.json()) as GqlResult<T>;
}
