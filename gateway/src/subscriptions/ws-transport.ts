import type { Logger } from '@taskgraph/runtime';
import { CloseCode, handleProtocols, makeServer, type WebSocket as ProtocolSocket, type ServerOptions } from 'graphql-ws';
import type { RawData, WebSocket, WebSocketServer } from 'ws';

/** What graphql-ws' `ctx.extra` holds for a connection of this transport. */
export interface TransportExtra {
  readonly socket: WebSocket;
}

export interface TransportOptions {
  /** Interval of WebSocket pings; a client that has not answered the previous ping is terminated. */
  keepAliveMs: number;
  /** A client that sends no `connection_init` within this time is closed 4408 (graphql-ws' default). */
  connectionInitWaitMs?: number;
  logger: Logger;
}

const OPEN = 1;
const kConnection = Symbol('graphql-ws connection');

type Closed = (code?: number, reason?: string) => Promise<void>;

/**
 * One connection's end of the protocol: what graphql-ws' server core (`makeServer`) calls to send,
 * close and receive. A class (methods shared), so a connection holds one small object and no
 * closures of its own; it hangs off the ws socket (`kConnection`) for the shared listeners below.
 */
class Connection implements ProtocolSocket {
  receive: ((data: string) => Promise<void>) | undefined;
  closed: Closed | undefined;
  initTimer: NodeJS.Timeout | undefined;
  awaitingPong = false;

  constructor(readonly socket: WebSocket) {}

  get protocol(): string {
    return this.socket.protocol;
  }

  send(data: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.socket.readyState !== OPEN) return resolve();
      this.socket.send(data, (error) => (error ? reject(error) : resolve()));
    });
  }

  close(code: number, reason: string): void {
    this.socket.close(code, reason);
  }

  onMessage(receive: (data: string) => Promise<void>): void {
    this.receive = receive;
  }
}

const connectionOf = (socket: WebSocket): Connection | undefined => (socket as unknown as Record<symbol, Connection>)[kConnection];

/**
 * graphql-ws on a `ws` server: what graphql-ws' own `useServer` does, with less held per
 * connection (a gateway holds tens of thousands of idle ones). No keep-alive timer and closures
 * per connection: one interval pings every client and terminates those that did not answer the
 * previous ping (so a dead client goes within two intervals, as with `useServer`). The upgrade
 * request is not kept. The `connection_init` timer is dropped once `connection_init` arrives.
 * Listeners are shared by all sockets. Protocol behaviour is graphql-ws' own (`makeServer`).
 */
export function serveGraphqlWs<P extends Record<string, unknown>>(
  options: ServerOptions<P, TransportExtra>,
  wss: WebSocketServer,
  transport: TransportOptions,
): { dispose(): Promise<void> } {
  const { logger } = transport;
  const initWaitMs = transport.connectionInitWaitMs ?? 3_000;
  const server = makeServer<P, TransportExtra>({
    ...options,
    connectionInitWaitTimeout: 0,
    onConnect: (ctx) => {
      const connection = connectionOf(ctx.extra.socket);
      if (connection) {
        clearTimeout(connection.initTimer);
        connection.initTimer = undefined;
      }
      return options.onConnect?.(ctx);
    },
  });
  wss.options.handleProtocols = handleProtocols;

  const internalError = (socket: WebSocket, what: string, error: unknown) => {
    logger.error({ err: error }, what);
    if (socket.readyState === OPEN) socket.close(CloseCode.InternalServerError, 'Internal server error');
  };
  function onError(this: WebSocket, error: Error) {
    internalError(this, 'WebSocket error', error);
  }
  function onMessage(this: WebSocket, data: RawData) {
    const receive = connectionOf(this)?.receive;
    if (!receive) return;
    receive(String(data)).catch((error: unknown) => internalError(this, 'graphql-ws message handling failed', error));
  }
  function onPong(this: WebSocket) {
    const connection = connectionOf(this);
    if (connection) connection.awaitingPong = false;
  }
  function onClose(this: WebSocket, code: number, reason: Buffer) {
    const connection = connectionOf(this);
    if (!connection) return;
    clearTimeout(connection.initTimer);
    connection.initTimer = undefined;
    connection.closed?.(code, String(reason)).catch((error: unknown) => logger.error({ err: error }, 'graphql-ws close handling failed'));
  }

  wss.on('error', (error) => {
    logger.error({ err: error }, 'WebSocket server error');
    for (const client of wss.clients) client.close(CloseCode.InternalServerError, 'Internal server error');
  });
  wss.on('connection', (socket: WebSocket) => {
    const connection = new Connection(socket);
    (socket as unknown as Record<symbol, Connection>)[kConnection] = connection;
    // `on`, not `once`: a once-listener costs a wrapper object and a bound function per socket.
    socket.on('error', onError);
    socket.on('message', onMessage);
    socket.on('pong', onPong);
    socket.on('close', onClose);
    if (initWaitMs > 0 && Number.isFinite(initWaitMs)) {
      connection.initTimer = setTimeout(() => {
        connection.initTimer = undefined;
        if (socket.readyState === OPEN) socket.close(CloseCode.ConnectionInitialisationTimeout, 'Connection initialisation timeout');
      }, initWaitMs);
    }
    connection.closed = server.opened(connection, { socket });
  });

  const keepAlive =
    transport.keepAliveMs > 0 && Number.isFinite(transport.keepAliveMs)
      ? setInterval(() => {
          for (const socket of wss.clients) {
            const connection = connectionOf(socket);
            if (!connection || socket.readyState !== OPEN) continue;
            if (connection.awaitingPong) {
              socket.terminate();
              continue;
            }
            connection.awaitingPong = true;
            socket.ping();
          }
        }, transport.keepAliveMs)
      : undefined;
  keepAlive?.unref();

  return {
    async dispose() {
      clearInterval(keepAlive);
      for (const client of wss.clients) client.close(1001, 'Going away');
      wss.removeAllListeners();
      await new Promise<void>((resolve, reject) => wss.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
