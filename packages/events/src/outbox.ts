import type { EntityManager } from '@taskgraph/runtime';
import type { OutboxEvent } from './envelope.js';

/** Advisory lock key serialising outbox appends, so `seq` order is commit order. */
export const OUTBOX_APPEND_LOCK = 7_301_001;
/** NOTIFY channel raised when rows are appended (embedded consumers and the relay LISTEN on it). */
export const OUTBOX_CHANNEL = 'bus_outbox';

/**
 * Appends events to `bus.outbox` inside the caller's transaction (transactional outbox, DESIGN §3).
 *
 * Call it as the **last** statement before commit: it takes a transaction-level advisory lock
 * held until commit, so a row with a lower `seq` can never become visible after one with a
 * higher `seq`. Consumers may then read the log in `seq` order without skipping late commits.
 */
export async function appendToOutbox(tx: EntityManager, events: readonly OutboxEvent[]): Promise<void> {
  if (events.length === 0) return;
  const connection = tx.getConnection();
  const ctx = tx.getTransactionContext();
  if (!ctx) throw new Error('appendToOutbox must run inside a transaction');
  await connection.execute('select pg_advisory_xact_lock(?)', [OUTBOX_APPEND_LOCK], 'run', ctx);
  const values: unknown[] = [];
  const rows = events.map((e) => {
    values.push(e.id, e.topic, e.key, e.type, JSON.stringify(e.data), e.occurredAt, e.source);
    return '(?, ?, ?, ?, ?::jsonb, ?, ?)';
  });
  await connection.execute(
    `insert into bus.outbox (id, topic, key, type, data, occurred_at, source) values ${rows.join(', ')}`,
    values,
    'run',
    ctx,
  );
  await connection.execute(`select pg_notify('${OUTBOX_CHANNEL}', '')`, [], 'run', ctx);
}
