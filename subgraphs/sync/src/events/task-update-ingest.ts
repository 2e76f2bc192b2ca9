import { drop, type EventHandler, EventType, retry, SUCCESS, type TaskEventData, type TaskEventType } from '@taskgraph/events';
import { currentTraceparent, type Logger } from '@taskgraph/runtime';
import { type TaskOp, type TaskUpdate, TaskUpdateSchema } from '../entities/task-update.entity.js';
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

/**
 * `task-updates` consumer: stores each update in the retained window (`insert … on conflict do
 * nothing` on the cursor, so a redelivery — or another instance that stored it first — is
 * harmless) and, after commit, hands it to live publishing (`onStored`). Never throws.
 */
export function taskUpdateIngest(options: TaskUpdateIngestOptions): EventHandler {
  return async (event, tx) => {
    const op = OP_BY_TYPE[event.type as TaskEventType];
    if (!op) return SUCCESS;
    if (!/^[1-9]\d{0,18}$/.test(event.seq)) return drop(`event ${event.id} has no log position (seq ${event.seq}): it cannot get a cursor`);
    const data = event.data as TaskEventData;
    const occurredAt = new Date(data.occurredAt);
    if (Date.now() - occurredAt.getTime() > options.retentionMs) {
      options.logger.debug({ eventId: event.id, seq: event.seq }, 'update older than the retention window: skipped');
      return SUCCESS;
    }
    const row: TaskUpdate = {
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
    try {
      await tx.createQueryBuilder(TaskUpdateSchema).insert(row).onConflict('cursor').ignore().execute();
    } catch (error) {
      return retry(`storing update ${event.seq} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    options.touchedUsers.add(row.userId);
    noteTraceLink(row.eventId, currentTraceparent());
    afterCommit(tx, () => options.onStored(row));
    return SUCCESS;
  };
}
