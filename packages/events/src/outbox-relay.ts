import type { Logger, Metrics } from '@taskgraph/runtime';
import pg from 'pg';
import { Backoff, type BackoffOptions, sleep } from './backoff.js';
import { type BulkPublishResult, BulkPublishUnavailable, bulkRounds } from './dapr-bulk-publisher.js';
import { OUTBOX_COLUMNS, type OutboxRow } from './outbox-row.js';
import { WakeSignal } from './wake-signal.js';

/** Session advisory lock held by the one active relay (any process, any service). */
export const OUTBOX_RELAY_LOCK = 7_301_002;

/** After the sidecar refused bulk publish as unavailable, rounds go one publish per row for this long before bulk is tried again. */
export const BULK_RETRY_MS = 60_000;

export interface OutboxRelayOptions {
  /** Postgres server holding `bus`. */
  url: string;
  logger: Logger;
  metrics: Metrics;
  /** Sends one row; rejects when it was not accepted. `signal` aborts it when the relay closes. */
  publish(row: OutboxRow, signal: AbortSignal): Promise<void>;
  /**
   * Sends rows of one topic, at most one per key, in one request (Dapr bulk publish): resolves with
   * what was and was not accepted; rejects with `BulkPublishUnavailable` to fall back to `publish`
   * per row, or with another error when nothing was accepted. Absent: one request per row (the
   * rows of a round, at most one per key, are sent concurrently).
   */
  publishBulk?(topic: string, rows: OutboxRow[], signal: AbortSignal): Promise<BulkPublishResult>;
  /** Most rows per bulk request (default 100). */
  maxBulk?: number;
  backoff: BackoffOptions;
  batchSize: number;
  /** How often a standby relay tries to take over. */
  standbyMs: number;
  /**
   * The log horizon (`LogHorizon`): rows are published in `seq` order up to it, so a row committed
   * late is normally not published after a higher `seq`; past `holdMs` they go anyway (see `publishable`).
   */
  horizon: { refresh(): Promise<bigint>; readonly behind: boolean };
  /** How long a visible row above the horizon waits before it is published anyway (default 250 ms). */
  holdMs?: number;
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
  /** When each unpublished row was first seen (performance.now()), for `holdMs`. */
  private firstSeen = new Map<string, number>();
  /** performance.now() until which bulk publish is not tried again (the sidecar refused it as unavailable). */
  private bulkUnavailableUntil = 0;

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
    const horizonPoll = new Backoff({ initialMs: 1, maxMs: 20 });
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
        const upto = await this.options.horizon.refresh();
        const visible = await client.query<OutboxRow>(
          `select ${OUTBOX_COLUMNS} from bus.outbox where published_at is null order by seq limit $1`,
          [this.options.batchSize],
        );
        const rows = this.publishable(visible.rows, upto);
        errorBackoff.reset();
        if (rows.length === 0) {
          // Rows above the horizon wait for transactions that were running when they appeared: look again shortly.
          if (visible.rows.length > 0 || this.options.horizon.behind) await this.wakeSignal.wait(signal, horizonPoll.next());
          else await this.wakeSignal.wait(signal);
          continue;
        }
        horizonPoll.reset();
        const failed = await this.publishBatch(client, rows);
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

  /**
   * Publishes a batch (rows in `seq` order) and marks the published rows. With bulk publish the
   * rows go in rounds (`bulkRounds`: consecutive rows of one topic, at most one event per key per
   * request), in log order; the first round with a failed entry ends the batch (back off, then the
   * unpublished rows are read again in order). One request per row (no bulk API, or bulk off): each
   * key's rows in order, the keys at once (`publishByKey`). True when something failed.
   */
  private async publishBatch(client: pg.Client, rows: OutboxRow[]): Promise<boolean> {
    const published: string[] = [];
    let failed = false;
    const maxBulk = this.options.maxBulk ?? 100;
    const bulk = this.options.publishBulk !== undefined && performance.now() >= this.bulkUnavailableUntil;
    const rounds = bulk ? bulkRounds(rows, maxBulk) : [rows];
    for (const round of rounds) {
      if (this.abort.signal.aborted) break;
      const result = bulk ? await this.publishRound(round) : await this.publishByKey(round, maxBulk);
      published.push(...result.published);
      const publishedSeqs = new Set(result.published);
      for (const row of round) if (publishedSeqs.has(String(row.seq))) this.options.metrics.eventsPublished.inc({ topic: row.topic });
      if (result.failed.length > 0) {
        failed = true;
        break;
      }
    }
    if (published.length > 0) {
      await client.query('update bus.outbox set published_at = now() where seq = any($1::bigint[])', [published]);
    }
    return failed;
  }

  /**
   * One publish per row: each key's rows one after the other in `seq` order, up to `concurrency`
   * keys at once. A key stops at its first failure (its later rows are not tried, so per-key order
   * holds); other keys go on. Kafka orders per key only, so nothing else waits on a slow key.
   */
  private async publishByKey(rows: OutboxRow[], concurrency: number): Promise<BulkPublishResult> {
    const byKey = new Map<string, OutboxRow[]>();
    for (const row of rows) {
      const chain = byKey.get(row.key);
      if (chain) chain.push(row);
      else byKey.set(row.key, [row]);
    }
    const chains = [...byKey.values()];
    const result: BulkPublishResult = { published: [], failed: [] };
    let firstError: { err: unknown; row: OutboxRow } | undefined;
    let next = 0;
    const worker = async () => {
      for (let chain = chains[next++]; chain; chain = chains[next++]) {
        for (const [i, row] of chain.entries()) {
          try {
            if (this.abort.signal.aborted) throw new Error('relay closing');
            await this.options.publish(row, this.abort.signal);
            result.published.push(String(row.seq));
          } catch (error) {
            firstError ??= { err: error, row };
            for (const rest of chain.slice(i)) result.failed.push(String(rest.seq));
            break;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, chains.length) }, worker));
    if (firstError) {
      const { err, row } = firstError;
      this.options.logger.warn(
        { err, eventId: row.id, seq: String(row.seq), topic: row.topic, failed: result.failed.length },
        'publish failed; will retry',
      );
    }
    return result;
  }

  /**
   * One round (rows of one topic, at most one per key): a bulk request, or one publish per row, all
   * of the round at once — no two of them share a key, so per-key order does not depend on which
   * lands first. A sidecar without the bulk API (`BulkPublishUnavailable`) is asked again only
   * after `BULK_RETRY_MS`, not on every round.
   */
  private async publishRound(rows: OutboxRow[]): Promise<BulkPublishResult> {
    const bulk = this.options.publishBulk;
    if (bulk && rows.length > 1 && performance.now() >= this.bulkUnavailableUntil) {
      try {
        const result = await bulk(rows[0]!.topic, rows, this.abort.signal);
        if (result.error)
          this.options.logger.warn({ failed: result.failed.length, reason: result.error }, 'bulk publish partly failed; will retry');
        return result;
      } catch (error) {
        if (!(error instanceof BulkPublishUnavailable)) {
          this.options.logger.warn({ err: error, topic: rows[0]!.topic, rows: rows.length }, 'bulk publish failed; will retry');
          return { published: [], failed: rows.map((row) => String(row.seq)) };
        }
        this.bulkUnavailableUntil = performance.now() + BULK_RETRY_MS;
        this.options.logger.warn({ err: error, retryMs: BULK_RETRY_MS }, 'bulk publish unavailable; publishing one by one');
      }
    }
    return this.publishByKey(rows, rows.length);
  }

  /**
   * The prefix of `rows` (visible, unpublished, in `seq` order) to publish now: rows up to the
   * horizon, then rows visible for at least `holdMs` — a transaction that writes no event but
   * stays open (a slow request, a stuck session) must not hold the topic back for longer; Kafka
   * orders per key only, which a late row keeps (its key's later events are appended after it).
   */
  private publishable(rows: OutboxRow[], upto: bigint): OutboxRow[] {
    const now = performance.now();
    const seen = new Map<string, number>();
    for (const row of rows) seen.set(String(row.seq), this.firstSeen.get(String(row.seq)) ?? now);
    this.firstSeen = seen;
    const holdMs = this.options.holdMs ?? 250;
    let end = 0;
    while (end < rows.length && (BigInt(rows[end]!.seq) <= upto || now - seen.get(String(rows[end]!.seq))! >= holdMs)) end++;
    return rows.slice(0, end);
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
