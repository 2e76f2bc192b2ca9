import type { Logger, Metrics } from '@taskgraph/runtime';
import pg from 'pg';
import { Backoff, type BackoffOptions, sleep } from './backoff.js';
import { OUTBOX_COLUMNS, type OutboxRow } from './outbox-row.js';
import { WakeSignal } from './wake-signal.js';

/** Session advisory lock held by the one active relay (any process, any service). */
export const OUTBOX_RELAY_LOCK = 7_301_002;

export interface OutboxRelayOptions {
  /** Postgres server holding `bus`. */
  url: string;
  logger: Logger;
  metrics: Metrics;
  /** Sends one row; rejects when it was not accepted. `signal` aborts it when the relay closes. */
  publish(row: OutboxRow, signal: AbortSignal): Promise<void>;
  backoff: BackoffOptions;
  batchSize: number;
  /** How often a standby relay tries to take over. */
  standbyMs: number;
}

/**
 * Outbox relay (ARCHITECTURE §3, dapr mode): publishes unpublished `bus.outbox` rows in `seq` order and
 * marks them published. One relay is active across processes: it holds a session advisory lock on
 * a dedicated connection (all its reads and writes use that connection, so losing the connection
 * also stops it); the others stand by and retry. A failed publish stops the batch: the relay backs
 * off and resumes from the same row, so order holds and rows stay in the outbox while Dapr is down.
 * At-least-once (a publish whose reply is lost is sent again): consumers dedupe on event id.
 */
export class OutboxRelay {
  private readonly wakeSignal = new WakeSignal();
  private readonly abort = new AbortController();
  private client: pg.Client | undefined;
  private holding = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly options: OutboxRelayOptions) {}

  /** True while this process is the active relay. */
  get active(): boolean {
    return this.holding;
  }

  start(): void {
    this.loop ??= this.run();
  }

  wake(): void {
    this.wakeSignal.notify();
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.loop;
    await this.disconnect();
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    const errorBackoff = new Backoff(this.options.backoff);
    const publishBackoff = new Backoff(this.options.backoff);
    while (!signal.aborted) {
      try {
        const client = await this.connection();
        if (!this.holding) {
          const { rows } = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1) as ok', [OUTBOX_RELAY_LOCK]);
          if (!rows[0]?.ok) {
            await sleep(this.options.standbyMs, signal);
            continue;
          }
          this.holding = true;
          this.options.logger.info('outbox relay active');
        }
        this.wakeSignal.clear();
        const batch = await client.query<OutboxRow>(
          `select ${OUTBOX_COLUMNS} from bus.outbox where published_at is null order by seq limit $1`,
          [this.options.batchSize],
        );
        errorBackoff.reset();
        if (batch.rows.length === 0) {
          await this.wakeSignal.wait(signal);
          continue;
        }
        const failed = await this.publishBatch(client, batch.rows);
        if (failed) {
          await sleep(publishBackoff.next(), signal);
        } else {
          publishBackoff.reset();
        }
      } catch (error) {
        this.options.logger.error({ err: error }, 'outbox relay failed; reconnecting');
        await this.disconnect();
        await sleep(errorBackoff.next(), signal);
      }
    }
  }

  /** Publishes rows in order until one fails; marks the published ones. True when one failed. */
  private async publishBatch(client: pg.Client, rows: OutboxRow[]): Promise<boolean> {
    const published: string[] = [];
    let failed = false;
    for (const row of rows) {
      if (this.abort.signal.aborted) break;
      try {
        await this.options.publish(row, this.abort.signal);
      } catch (error) {
        this.options.logger.warn({ err: error, eventId: row.id, seq: String(row.seq), topic: row.topic }, 'publish failed; will retry');
        failed = true;
        break;
      }
      published.push(String(row.seq));
      this.options.metrics.eventsPublished.inc({ topic: row.topic });
    }
    if (published.length > 0) {
      await client.query('update bus.outbox set published_at = now() where seq = any($1::bigint[])', [published]);
    }
    return failed;
  }

  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = new pg.Client({ connectionString: this.options.url, application_name: 'taskgraph-outbox-relay' });
    client.on('error', (error) => {
      this.options.logger.warn({ err: error }, 'outbox relay connection error');
      if (this.client === client) {
        this.client = undefined;
        this.holding = false;
      }
      client.end().catch(() => {});
    });
    await client.connect();
    this.client = client;
    return client;
  }

  private async disconnect(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (this.holding) this.options.logger.info('outbox relay standing down');
    this.holding = false;
    // Ending the session releases the advisory lock.
    await client?.end().catch(() => {});
  }
}
