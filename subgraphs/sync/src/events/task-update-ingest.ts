import {
  type BatchEventHandler,
  type DeliveredEvent,
  drop,
  type EventHandler,
  EventType,
  type HandlerResult,
  retry,
  SUCCESS,
  type TaskEventData,
  type TaskEventType,
} from '@taskgraph/events';
import { currentTraceparent, type EntityManager, type Logger, runStatement } from '@taskgraph/runtime';
import type { TaskOp, TaskUpdate } from '../entities/task-update.entity.js';
import { noteTraceLink } from '../feed/trace-links.js';
import { afterCommit } from './after-commit.js';

const OP_BY_TYPE: Record<TaskEventType, TaskOp> = {
  [EventType.TaskCreated]: 'CREATED',
  [EventType.TaskUpdated]: 'UPDATED',
  [EventType.TaskCompleted]: 'COMPLETED',
  [EventType.TaskReopened]: 'REOPENED',
  [EventType.TaskDeleted]: 'DELETED',
};

export interface TaskUpdateIngestOptions {
  /**
   * Called after the row's transaction committed: publishes it (embedded: the log is consumed in
   * cursor order) or wakes the ordered release (dapr: deliveries are ordered per task only).
   */
  onStored(update: TaskUpdate): void;
  logger: Logger;
  /** Updates older than this are outside the window: not stored, not pushed (replays of old log ranges). */
  retentionMs: number;
  /** Users that got a row since the last prune (the per-user cap only looks at them). */
  touchedUsers: Set<string>;
}

/** What an event comes to: a row to store, nothing to do (not a task op, or older than the window), or a drop. */
function rowOf(event: DeliveredEvent, options: TaskUpdateIngestOptions): TaskUpdate | 'skip' | HandlerResult {
  const op = OP_BY_TYPE[event.type as TaskEventType];
  if (!op) return 'skip';
  if (!/^[1-9]\d{0,18}$/.test(event.seq)) return drop(`event ${event.id} has no log position (seq ${event.seq}): it cannot get a cursor`);
  const data = event.data as TaskEventData;
  const occurredAt = new Date(data.occurredAt);
  if (Date.now() - occurredAt.getTime() > options.retentionMs) {
    options.logger.debug({ eventId: event.id, seq: event.seq }, 'update older than the retention window: skipped');
    return 'skip';
  }
  return {
    cursor: event.seq,
    eventId: data.eventId,
    userId: data.userId,
    taskId: data.taskId.toLowerCase(),
    op,
    version: data.version,
    changedFields: Object.keys(data.changes ?? {}).sort(),
    tags: [...data.task.tags],
    occurredAt,
  };
}

/** Stores updates in the window; a cursor already stored (a redelivery, or another instance first) is skipped. */
async function insertUpdates(tx: EntityManager, rows: readonly TaskUpdate[]): Promise<void> {
  await runStatement(
    tx,
    `insert into sync.task_update (cursor, event_id, user_id, task_id, op, version, changed_fields, tags, occurred_at)
     select r.cursor, r.event_id, r.user_id, r.task_id, r.op, r.version,
            array(select jsonb_array_elements_text(r.changed_fields)), array(select jsonb_array_elements_text(r.tags)), r.occurred_at
       from jsonb_to_recordset($1::jsonb) as r(cursor bigint, event_id uuid, user_id text, task_id uuid, op text, version int,
            changed_fields jsonb, tags jsonb, occurred_at timestamptz)
     on conflict (cursor) do nothing`,
    [
      JSON.stringify(
        rows.map((r) => ({
          cursor: r.cursor,
          event_id: r.eventId,
          user_id: r.userId,
          task_id: r.taskId,
          op: r.op,
          version: r.version,
          changed_fields: r.changedFields,
          tags: r.tags,
          occurred_at: r.occurredAt.toISOString(),
        })),
      ),
    ],
    { prepared: true },
  );
}

/** After the row is stored, in the storing transaction: prune bookkeeping, trace link, live push after commit. */
function stored(tx: EntityManager, row: TaskUpdate, options: TaskUpdateIngestOptions): void {
  options.touchedUsers.add(row.userId);
  noteTraceLink(row.eventId, currentTraceparent());
  afterCommit(tx, () => options.onStored(row));
}

/**
 * `task-updates` consumer: stores each update in the retained window (`insert … on conflict do
 * nothing` on the cursor, so a redelivery — or another instance that stored it first — is
 * harmless) and, after commit, hands it to live publishing (`onStored`). Never throws.
 */
export function taskUpdateIngest(options: TaskUpdateIngestOptions): EventHandler {
  return async (event, tx) => {
    const row = rowOf(event, options);
    if (row === 'skip') return SUCCESS;
    if ('status' in row) return row;
    try {
      await insertUpdates(tx, [row]);
    } catch (error) {
      return retry(`storing update ${event.seq} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    stored(tx, row, options);
    return SUCCESS;
  };
}

/**
 * The same for a batch (embedded bus): every storable update in one statement, their live pushes
 * after the commit in log order. An event to drop is left to the handler; the bus runs the batch
 * handler's after-commit effects before the handler's, so a batch with such an event still
 * pushes in log order (the dropped one pushes nothing).
 */
export function taskUpdateIngestBatch(options: TaskUpdateIngestOptions): BatchEventHandler {
  return async (events, tx) => {
    const taken = new Set<string>();
    const rows: TaskUpdate[] = [];
    for (const event of events) {
      const row = rowOf(event, options);
      if (row !== 'skip' && 'status' in row) continue;
      taken.add(event.id);
      if (row !== 'skip') rows.push(row);
    }
    if (rows.length > 0) {
      await insertUpdates(tx, rows);
      for (const row of rows) stored(tx, row, options);
    }
    return taken;
  };
}
