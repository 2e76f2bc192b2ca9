/** The graphql-ws URL of a GraphQL HTTP endpoint: same host, port and path (`http` → `ws`, `https` → `wss`). */
export const webSocketUrl = (httpUrl: string): string => httpUrl.replace(/^http/i, 'ws');
