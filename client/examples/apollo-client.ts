import { ApolloClient, ApolloLink, HttpLink } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { createTaskgraphCache } from '@taskgraph/client/apollo';
import { createClient } from 'graphql-ws';

/** Apollo Client for the taskgraph gateway: HTTP for queries and mutations, graphql-ws for subscriptions. */
export function createApolloClient(options: { url: string; token: string; webSocketImpl?: unknown }) {
  const authorization = `Bearer ${options.token}`;
  const http = new HttpLink({ uri: options.url, headers: { authorization } });
  const ws = new GraphQLWsLink(
    createClient({
      url: options.url.replace(/^http/, 'ws'),
      connectionParams: { authorization },
      webSocketImpl: options.webSocketImpl, // omit in browsers and on Node ≥ 22
    }),
  );
  const isSubscription = ({ query }: ApolloLink.Operation) => {
    const definition = getMainDefinition(query);
    return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
  };
  return new ApolloClient({ link: ApolloLink.split(isSubscription, ws, http), cache: createTaskgraphCache() });
}
