import type { Server } from 'node:http';
import { type Caller, formatGraphQLError, INTERNAL_TOKEN_HEADER, type Logger, verifyInternalToken } from '@taskgraph/runtime';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { SyncContext } from './context.js';
import type { SyncFeed } from './feed/sync-feed.js';

export interface SubscriptionServerOptions {
  /** The service's HTTP server (`HttpService.server`): graphql-ws shares its port and path. */
  server: Server;
  path: string;
  schema: GraphQLSchema;
  feed: SyncFeed;
  internalTokenSecret: string;
  /** Ping interval; a peer silent for one more interval after a ping is terminated. */
  keepAliveMs: number;
  maxPayloadBytes: number;
  logger: Logger;
}

export interface SubscriptionServer {
  /** Closes every connection (1001 Going away) and stops accepting WebSocket upgrades. */
  close(): Promise<void>;
}

const tokenOf = (value: unknown): string | undefined => (typeof value === 'string' && value.length > 0 ? value : undefined);

/**
 * graphql-ws (graphql-transport-ws protocol) on the subgraph's port and GraphQL path (upstream
 * protocol of federated subscriptions, ARCHITECTURE §6/§7):
 *
 * - `connection_init` payload `{ "x-taskgraph-internal": <internal token> }` (the gateway-signed
 *   token, same as the HTTP header); missing, forged or expired → close 4403 Forbidden.
 * - Optionally, a `subscribe` payload's `extensions["x-taskgraph-internal"]` carries another
 *   internal token: that operation then runs as that token's user (one upstream connection can
 *   multiplex many users); an invalid one fails that operation with UNAUTHENTICATED.
 * - Each `taskUpdates` `next` message carries `extensions.causal` `{ Task: { <id>: <version> } }`:
 *   the version the event's entity fetches must reflect (the gateway passes it on, see Task.history).
 * - Errors are mapped centrally (`formatGraphQLError`): domain codes kept, internals masked.
 * - Keep-alive: WebSocket ping every `keepAliveMs`; no pong within another `keepAliveMs` →
 *   the socket is terminated (its subscriptions are cleaned up like a normal close).
 */
export function startSubscriptionServer(options: SubscriptionServerOptions): SubscriptionServer {
  const wss = new WebSocketServer({ server: options.server, path: options.path, maxPayload: options.maxPayloadBytes });
  /** Verified connection caller and per-operation callers, per connection. */
  const connections = new WeakMap<object, { caller: Caller; operations: Map<string, Caller> }>();
  const log = options.logger.child({ component: 'graphql-ws' });

  const disposable = useServer<Record<string, unknown> | undefined>(
    {
      schema: options.schema,
      onConnect: async (ctx) => {
        try {
          const caller = await verifyInternalToken(tokenOf(ctx.connectionParams?.[INTERNAL_TOKEN_HEADER]), options.internalTokenSecret);
          connections.set(ctx.extra, { caller, operations: new Map() });
          return true;
        } catch (error) {
          log.info({ reason: (error as Error).message }, 'graphql-ws connection refused');
          return false; // → 4403 Forbidden
        }
      },
      onSubscribe: async (ctx, id, payload) => {
        const token = tokenOf(payload.extensions?.[INTERNAL_TOKEN_HEADER]);
        if (!token) return undefined;
        try {
          const caller = await verifyInternalToken(token, options.internalTokenSecret);
          connections.get(ctx.extra)?.operations.set(id, caller);
          return undefined;
        } catch (error) {
          return [new GraphQLError((error as Error).message, { extensions: { code: 'UNAUTHENTICATED' } })];
        }
      },
      context: (ctx, id): SyncContext => {
        const connection = connections.get(ctx.extra);
        // onConnect accepted the connection, so it is there; a missing one is a bug, not a caller.
        if (!connection) throw new Error('graphql-ws context without a verified connection');
        return { caller: connection.operations.get(id) ?? connection.caller, feed: options.feed };
      },
      onNext: (_ctx, _id, _payload, args, result) => {
        // The update's trace context and causal versions ride along to the gateway in `extensions`
        // (its delivery span continues the trace; its entity fetches carry the versions); clients never see them.
        const context = args.contextValue as SyncContext | undefined;
        const traceparent = context?.traceparent;
        const causal = context?.causal;
        if (context) context.causal = undefined;
        if (!result.errors && !traceparent && !causal) return undefined;
        return {
          ...result,
          ...(result.errors ? { errors: result.errors.map((error) => formatGraphQLError(error.toJSON(), error)) } : {}),
          ...(traceparent || causal
            ? { extensions: { ...result.extensions, ...(traceparent ? { traceparent } : {}), ...(causal ? { causal } : {}) } }
            : {}),
        };
      },
      onError: (ctx, id, _payload, errors) => {
        connections.get(ctx.extra)?.operations.delete(id);
        return errors.map((error) => formatGraphQLError(error.toJSON(), error));
      },
      onComplete: (ctx, id) => {
        connections.get(ctx.extra)?.operations.delete(id);
      },
    },
    wss,
    options.keepAliveMs,
  );

  return {
    close: async () => {
      await disposable.dispose();
    },
  };
}
