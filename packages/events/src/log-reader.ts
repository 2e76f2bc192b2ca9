import type { Database } from '@taskgraph/runtime';
import { LogHorizon } from './log-horizon.js';
import { isoTime, type OutboxRow } from './outbox-row.js';
import type { Topic } from './topics.js';
import { executeSql } from './tx-sql.js';

/** One record of the log as a reader sees it. */
export interface LogRecord {
  /** Log position (decimal string), the order records are read in. */
  seq: string;
  id: string;
  topic: Topic;
  key: string;
  type: string;
  data: unknown;
  occurredAt: string;
  /** Dapr mode: milliseconds since the relay published it (database clock); null while unpublished. */
  publishedAgoMs: number | null;
}

/** An outbox row as the reader selects it, with how long ago it was published. */
interface Row extends Pick<OutboxRow, 'seq' | 'id' | 'topic' | 'key' | 'type' | 'data' | 'occurred_at'> {
  published_ago_ms: string | number | null;
}

const POSITION = /^\d{1,19}$/;

function position(value: string): string {
  if (!POSITION.test(value)) throw new Error(`not a log position: ${value}`);
  return value;
}

/**
 * Read access to the event log (`bus.outbox`) for services that need more than a subscription:
 * sync walks `task-updates` in log order to release live updates in Dapr mode and needs the log
 * head to seed its window (docs/ARCHITECTURE.md §3, §6). The bus owns the `bus` schema; nothing
 * outside `@taskgraph/events` queries it.
 *
 * Reads stop at the log horizon (`LogHorizon`): a record returned here is final, and no record
 * with a lower position can still appear, so a reader that moves past a position never misses one.
 */
export class LogReader {
  private readonly logHorizon: LogHorizon;

  constructor(
    private readonly db: Database,
    horizon?: LogHorizon,
  ) {
    this.logHorizon = horizon ?? new LogHorizon(db);
  }

  /** The position up to which the log is final now (0 for an empty log): "latest". */
  async horizon(): Promise<string> {
    return (await this.logHorizon.refresh()).toString();
  }

  /** Up to `limit` records of `topic` after position `after`, up to the horizon, in log order. */
  async read(topic: Topic, after: string, limit: number): Promise<LogRecord[]> {
    const upto = await this.logHorizon.refresh();
    if (BigInt(position(after)) >= upto) return [];
    const { rows } = await executeSql<Row>(
      this.db.fork(),
      `select seq::text as seq, id, topic, key, type, data, occurred_at,
              (extract(epoch from now() - published_at) * 1000)::float8 as published_ago_ms
         from bus.outbox where topic = ? and seq > ? and seq <= ? order by seq limit ?`,
      [topic, after, upto.toString(), limit],
    );
    return rows.map((row) => ({
      seq: String(row.seq),
      id: row.id,
      topic: row.topic as Topic,
      key: row.key,
      type: row.type,
      data: row.data,
      occurredAt: isoTime(row.occurred_at),
      publishedAgoMs: row.published_ago_ms === null ? null : Number(row.published_ago_ms),
    }));
  }

  /** Records of `topic` in the log after position `after` (committed, below the horizon or not). */
  async backlog(topic: Topic, after: string): Promise<number> {
    const { rows } = await executeSql<{ n: string }>(this.db.fork(), 'select count(*) as n from bus.outbox where topic = ? and seq > ?', [
      topic,
      position(after),
    ]);
    return Number(rows[0]?.n ?? 0);
  }
}

/** A reader of the log in `db`'s database (where the bus schema lives, ARCHITECTURE §3). */
export function createLogReader(db: Database): LogReader {
  return new LogReader(db);
}
