/**
 * The outbox relay in Dapr mode in its own process, as a publishing service runs it: an embedded
 * Postgres (durable settings) under a temporary directory, a service database, and the real
 * `DaprEventBus` with its relay (`createEventBus({ mode: 'dapr', relay: true })`) pointed at a
 * sidecar (the double, in another process). Events are appended through the real append path
 * (`appendToOutbox`, inside MikroORM transactions).
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appendToOutbox, createEventBus, type EventBus, EventType, type OutboxEvent, Topic } from '@taskgraph/events';
import { createLogger, createMetrics, type Database, openDatabase, startEmbeddedPostgres } from '@taskgraph/runtime';
import { taskEventOf, taskSnapshot } from '@taskgraph/test-kit';
import { serveParent } from '../lib/child.js';
import { monotonicMs } from '../lib/stats.js';

interface State {
  db: Database;
  bus: EventBus | undefined;
  stopPostgres(): Promise<void>;
  dataDir: string;
}

export interface AppendResult {
  events: number;
  transactions: number;
  /** Monotonic ms when the first transaction began and the last one committed. */
  startedAt: number;
  committedAt: number;
}

const logger = createLogger('bench-relay', process.env.LOG_LEVEL ?? 'silent');

export interface AppendRequest {
  events: number;
  keys: number;
  /** Events per transaction, and per `appendToOutbox` call (one statement) inside it. */
  perTransaction: number;
  perStatement: number;
}

/**
 * `events` task events over `keys` tasks, version after version (task 1 v1, task 2 v1, …, task 1
 * v2, …), appended in transactions of `perTransaction` events, `perStatement` per `appendToOutbox` call.
 */
async function append(state: State, { events, keys, perTransaction, perStatement }: AppendRequest): Promise<AppendResult> {
  const userId = 'bench-user';
  const tasks = Array.from({ length: keys }, (_, i) => `bench-task-${String(i).padStart(5, '0')}-${Date.now()}`);
  const all: OutboxEvent[] = [];
  for (let i = 0; i < events; i++) {
    const version = Math.floor(i / keys) + 1;
    const task = taskSnapshot({ id: tasks[i % keys]!, userId, title: `bench v${version}`, version });
    all.push(taskEventOf({ type: version === 1 ? EventType.TaskCreated : EventType.TaskUpdated, task, topic: Topic.TaskEvents }));
  }
  const startedAt = monotonicMs();
  let transactions = 0;
  for (let i = 0; i < all.length; i += perTransaction) {
    const batch = all.slice(i, i + perTransaction);
    await state.db.fork().transactional(async (tx) => {
      for (let j = 0; j < batch.length; j += perStatement) await appendToOutbox(tx, batch.slice(j, j + perStatement));
    });
    transactions++;
  }
  return { events: all.length, transactions, startedAt, committedAt: monotonicMs() } satisfies AppendResult;
}

await serveParent<State>(
  async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'taskgraph-bench-relay-'));
    chmodSync(dataDir, 0o755); // the unprivileged postgres user must reach its data directory
    const postgres = await startEmbeddedPostgres({ dataDir: join(dataDir, 'postgres'), persistent: false });
    try {
      const db = await openDatabase({ url: postgres.url, schema: 'bench_relay', entities: [], migrations: [], logger, poolMax: 4 });
      return { db, bus: undefined, dataDir, stopPostgres: () => postgres.stop() };
    } catch (error) {
      await postgres.stop();
      throw error;
    }
  },
  (state) => ({
    /** Starts the Dapr bus with its relay against the sidecar at `port` (a fresh log each time). */
    start: async ({ port, batchSize }: { port: number; batchSize?: number }) => {
      await state.bus?.close();
      const bus = await createEventBus({
        mode: 'dapr',
        db: state.db,
        logger,
        metrics: createMetrics('bench-relay'),
        appId: 'tasks',
        relay: true,
        dapr: { host: '127.0.0.1', httpPort: port, pubsubName: 'pubsub' },
        ...(batchSize ? { batchSize } : {}),
      });
      await state.db.fork().getConnection().execute('truncate bus.outbox');
      await bus.start();
      state.bus = bus;
      return true;
    },
    stopBus: async () => {
      await state.bus?.close();
      state.bus = undefined;
      return true;
    },
    append: (request: AppendRequest) => append(state, request),
    unpublished: async () => {
      const rows = await state.db
        .fork()
        .getConnection()
        .execute<{ n: string }[]>('select count(*)::text as n from bus.outbox where published_at is null');
      return Number(rows[0]?.n ?? -1);
    },
  }),
  () => ({ pid: process.pid }),
  async (state) => {
    await state.bus?.close();
    await state.db.close();
    await state.stopPostgres();
    rmSync(state.dataDir, { recursive: true, force: true });
  },
);
