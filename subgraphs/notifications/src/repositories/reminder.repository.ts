import { LockMode } from '@mikro-orm/core';
import { dateOrNull, type EntityManager, queryRows, readRows } from '@taskgraph/runtime';
import { type Reminder, ReminderSchema } from '../entities/reminder.entity.js';
import { type TrackedTask, TrackedTaskSchema } from '../entities/tracked-task.entity.js';

/**
 * Reminder state. Writers (the task-events consumer, job triggers) lock the task's tracked row
 * first, then its reminders, always in that order: the two serialise per task without deadlocks.
 */
export class ReminderRepository {
  constructor(private readonly em: EntityManager) {}

  /**
   * Locks the task's tracked row for this transaction, creating it (version 0) on first sight.
   * The insert-then-lock makes concurrent first deliveries of one task wait for each other
   * instead of failing on the primary key.
   */
  async lockTrackedTask(taskId: string, userId: string, now: Date): Promise<TrackedTask> {
    await queryRows(
      this.em,
      `insert into notifications.tracked_task (task_id, user_id, version, title, due_at, status, deleted, updated_at)
       values (?, ?, 0, '', null, 'OPEN', false, ?) on conflict (task_id) do nothing`,
      [taskId, userId, now],
    );
    return this.em.findOneOrFail(TrackedTaskSchema, { taskId }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
  }

  /** The tracked row, locked; `null` when no event of the task has been applied yet. */
  findTrackedTaskLocked(taskId: string): Promise<TrackedTask | null> {
    return this.em.findOne(TrackedTaskSchema, { taskId }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
  }

  /** The task's reminders, locked, by index. */
  findForTaskLocked(taskId: string): Promise<Reminder[]> {
    return this.em.find(ReminderSchema, { taskId }, { lockMode: LockMode.PESSIMISTIC_WRITE, orderBy: { n: 'asc' }, refresh: true });
  }

  findOneLocked(id: string): Promise<Reminder | null> {
    return this.em.findOne(ReminderSchema, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
  }

  /**
   * The user's reminders of a batch of tasks: one prepared SQL statement (DataLoader), plain rows
   * without ORM hydration (read path only; writers lock through the methods above).
   */
  async findForTasks(userId: string, taskIds: readonly string[]): Promise<Reminder[]> {
    const rows = await readRows<Record<string, unknown>>(
      this.em,
      'select r.* from notifications.reminder r where r.user_id = $1 and r.task_id = any($2::uuid[]) order by r.task_id, r.n',
      [userId, taskIds],
    );
    return rows.map(reminderFromRow);
  }
}

/** A reminder row as read paths return it (plain object, same shape as the entity). */
export function reminderFromRow(row: Record<string, unknown>): Reminder {
  return {
    id: row.id as string,
    taskId: row.task_id as string,
    userId: row.user_id as string,
    n: Number(row.n),
    rule: (typeof row.rule === 'string' ? JSON.parse(row.rule) : row.rule) as Reminder['rule'],
    fireAt: dateOrNull(row.fire_at),
    status: row.status as Reminder['status'],
    generation: Number(row.generation),
    firedAt: dateOrNull(row.fired_at),
    updatedAt: dateOrNull(row.updated_at) as Date,
  };
}
