import type { Logger } from '@taskgraph/runtime';
import pg from 'pg';
import { Backoff } from './backoff.js';

export interface NotificationListenerOptions {
  /** Postgres server of the bus (the service's own database URL). */
  url: string;
  channels: readonly string[];
  logger: Logger;
  /** A NOTIFY arrived on one of `channels`. */
  onNotify(channel: string, payload: string): void;
  /**
   * Notifications may have been missed (just (re)connected) or this is the periodic safety
   * re-check: look at the table again.
   */
  onResync(): void;
  /** Period of the safety re-check, which also reconnects a dropped listener (default 30 s). */
  safetyCheckMs?: number;
}

/**
 * LISTEN on a dedicated `pg` connection (not the ORM pool: a pooled connection cannot hold a
 * LISTEN). No fixed-interval polling: wake-ups come from NOTIFY; a long safety timer re-checks
 * and reconnects when the connection dropped (ARCHITECTURE §3).
 */
export class NotificationListener {
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly reconnectBackoff = new Backoff({ initialMs: 100, maxMs: 5_000 });

  constructor(private readonly options: NotificationListenerOptions) {}

  get connected(): boolean {
    return this.client !== undefined;
  }

  /** Connects and LISTENs; rejects when the first connection fails. */
  async start(): Promise<void> {
    await this.connect();
    this.timer = setInterval(() => this.safetyCheck(), this.options.safetyCheckMs ?? 30_000);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.reconnectTimer);
    await this.connecting?.catch(() => {});
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }

  private connect(): Promise<void> {
    this.connecting ??= this.doConnect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async doConnect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.url, application_name: 'taskgraph-bus-listener' });
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, undefined));
    client.on('notification', (message) => this.options.onNotify(message.channel, message.payload ?? ''));
    try {
      await client.connect();
      for (const channel of this.options.channels) await client.query(`listen "${channel}"`);
    } catch (error) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
      throw error;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.reconnectBackoff.reset();
    this.options.onResync();
  }

  private lost(client: pg.Client, error: Error | undefined): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.end().catch(() => {});
    if (this.closed) return;
    this.options.logger.warn({ err: error, channels: this.options.channels }, 'bus listener connection lost; reconnecting');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect().catch((error) => {
        this.options.logger.warn({ err: error }, 'bus listener reconnect failed');
        this.scheduleReconnect();
      });
    }, this.reconnectBackoff.next());
    this.reconnectTimer.unref();
  }

  private safetyCheck(): void {
    if (this.closed) return;
    const client = this.client;
    if (!client) {
      this.scheduleReconnect();
      return;
    }
    // A half-open TCP connection only shows up when used.
    client.query('select 1').then(
      () => this.options.onResync(),
      (error) => this.lost(client, error),
    );
  }
}
