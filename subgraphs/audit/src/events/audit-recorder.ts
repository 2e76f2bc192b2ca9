import {
  type BatchEventHandler,
  drop,
  type EventHandler,
  EventType,
  retry,
  SUCCESS,
  type Subscription,
  TASK_EVENT_TYPES,
  type TaskEventData,
  type TaskEventType,
  Topic,
  taskSnapshotSchema,
} from '@taskgraph/events';
import { type EntityManager, type Logger, runStatement } from '@taskgraph/runtime';
import type { AuditAction, FieldChange } from '../entities/audit-entry.entity.js';

/** Consumer group of the audit trail on `task-events` (also its Dapr app-id). */
export const AUDIT_GROUP = 'audit';

/** The action an event type records. */
export const ACTION_BY_TYPE: Record<TaskEventType, AuditAction> = {
  [EventType.TaskCreated]: 'CREATED',
  [EventType.TaskUpdated]: 'UPDATED',
  [EventType.TaskCompleted]: 'COMPLETED',
  [EventType.TaskReopened]: 'REOPENED',
  [EventType.TaskDeleted]: 'DELETED',
};

// Key order of a jsonb object is not the producer's (the outbox stores `data` as jsonb), so changes
// are listed in the task snapshot's field order (title, notes, status, ...), unknown fields last.
const FIELD_ORDER = new Map(Object.keys(taskSnapshotSchema.shape).map((field, i) => [field, i]));
const rank = (field: string) => FIELD_ORDER.get(field) ?? FIELD_ORDER.size;

/** `changes` of an event (field → {from, to}) as the stored list, in the snapshot's field order. */
export function fieldChanges(changes: TaskEventData['changes']): FieldChange[] {
  return Object.entries(changes ?? {})
    .sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))
    .map(([field, change]) => ({ field, from: change.from ?? null, to: change.to ?? null }));
}

/** The stored columns of a task event's entry (jsonb columns as values; `recorded_at` is the insert's clock). */
function entryOf(action: AuditAction, data: TaskEventData) {
  return {
    event_id: data.eventId,
    task_id: data.taskId,
    user_id: data.userId,
    action,
    actor: data.actor,
    occurred_at: data.occurredAt,
    version: data.version,
    changes: fieldChanges(data.changes),
    snapshot: data.task,
  };
}

/** Inserts entries in the given order, skipping event ids already recorded; the number inserted. */
async function insertEntries(tx: EntityManager, entries: ReturnType<typeof entryOf>[]): Promise<number> {
  const { affectedRows } = await runStatement(
    tx,
    `insert into audit.audit_entry (event_id, task_id, user_id, action, actor, occurred_at, recorded_at, version, changes, snapshot)
     select r.event_id, r.task_id, r.user_id, r.action, r.actor, r.occurred_at, clock_timestamp(), r.version, r.changes, r.snapshot
       from rows from (jsonb_to_recordset($1::jsonb) as (event_id uuid, task_id uuid, user_id text, action text, actor text,
            occurred_at timestamptz, version int, changes jsonb, snapshot jsonb))
            with ordinality as r(event_id, task_id, user_id, action, actor, occurred_at, version, changes, snapshot, n)
      order by r.n
     on conflict (event_id) do nothing`,
    [JSON.stringify(entries)],
    { prepared: true },
  );
  return affectedRows;
}

/** An event's snapshot belongs to another task or user than the event says: it is dropped, never recorded. */
const inconsistent = (data: TaskEventData) => data.task.id !== data.taskId || data.task.userId !== data.userId;

/**
 * Records one audit entry per task event, in the transaction that also commits the consumer's
 * offset (embedded) or processed-event marker (dapr). `on conflict (event_id) do nothing` makes a
 * re-delivered event a no-op even if that marker were lost. Never throws (ARCHITECTURE §5): a failed
 * insert is RETRYed, an inconsistent event is DROPped to the dead letters.
 */
export function auditRecorder(logger: Logger): Subscription {
  const handler: EventHandler = async (event, tx) => {
    const action = ACTION_BY_TYPE[event.type as TaskEventType];
    if (!action) return SUCCESS; // not a task event: nothing to record
    const data = event.data as TaskEventData;
    if (inconsistent(data)) {
      return drop(`event ${event.id}: snapshot ${data.task.id}/${data.task.userId} does not match task ${data.taskId}/${data.userId}`);
    }
    try {
      if ((await insertEntries(tx, [entryOf(action, data)])) === 0) {
        logger.debug({ eventId: event.id, taskId: data.taskId }, 'audit entry already recorded');
      }
      return SUCCESS;
    } catch (error) {
      return retry(`recording audit entry for event ${event.id} failed: ${(error as Error).message}`);
    }
  };
  // A batch (embedded bus): one statement for all its consistent task events; an inconsistent one
  // is left to `handler`, which drops it to the dead letters.
  const batchHandler: BatchEventHandler = async (events, tx) => {
    const taken = new Set<string>();
    const entries: ReturnType<typeof entryOf>[] = [];
    for (const event of events) {
      const action = ACTION_BY_TYPE[event.type as TaskEventType];
      const data = event.data as TaskEventData;
      if (action && inconsistent(data)) continue;
      taken.add(event.id);
      if (action) entries.push(entryOf(action, data));
    }
    if (entries.length > 0) await insertEntries(tx, entries);
    return taken;
  };
  return { group: AUDIT_GROUP, topic: Topic.TaskEvents, types: TASK_EVENT_TYPES, handler, batchHandler };
}
