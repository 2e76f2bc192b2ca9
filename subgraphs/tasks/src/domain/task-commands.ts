import { randomUUID } from 'node:crypto';
import { appendToOutbox, EventType, type TaskEventType, type TaskSnapshot } from '@taskgraph/events';
import { type Caller, type EntityManager, notFound } from '@taskgraph/runtime';
import { PRIORITY_BY_RANK, PRIORITY_RANK, type Task, TaskSchema } from '../entities/task.entity.js';
import { TaskRepository } from '../repositories/task.repository.js';
import { diffSnapshots, snapshotOf, taskChangeEvents } from './task-events.js';
import { type CreateTaskInput, checkVersion, type TaskFields, type UpdateTaskInput, validateCreate, validateUpdate } from './task-input.js';

function fieldsOf(task: Task): TaskFields {
  return {
    title: task.title,
    notes: task.notes,
    priority: PRIORITY_BY_RANK[task.priorityRank] ?? 'MEDIUM',
    tags: task.tags,
    dueAt: task.dueAt,
    timeZone: task.timeZone,
    recurrence: task.recurrence,
    reminders: task.reminders,
  };
}

function apply(task: Task, fields: TaskFields): void {
  task.title = fields.title;
  task.notes = fields.notes;
  task.priorityRank = PRIORITY_RANK[fields.priority];
  task.tags = fields.tags;
  task.dueAt = fields.dueAt;
  task.timeZone = fields.timeZone;
  task.recurrence = fields.recurrence;
  task.reminders = fields.reminders;
}

/**
 * Task mutations. Each runs in one transaction that writes the task row and appends its events
 * to the outbox (ARCHITECTURE §3): either both commit or neither does.
 */
export class TaskCommands {
  constructor(private readonly em: EntityManager) {}

  create(caller: Caller, input: CreateTaskInput, actor = caller.userId): Promise<Task> {
    const fields = validateCreate(input);
    return this.em.transactional(async (tx) => {
      const task = this.newTask(tx, caller.userId, fields, null);
      await this.commit(tx, task, EventType.TaskCreated, actor);
      return task;
    });
  }

  update(caller: Caller, id: string, input: UpdateTaskInput, expectedVersion?: number | null): Promise<Task> {
    return this.mutate(caller, id, expectedVersion, EventType.TaskUpdated, (task) => {
      const fields = validateUpdate(fieldsOf(task), input);
      const reanchor = fields.recurrence !== task.recurrence || fields.dueAt?.getTime() !== task.dueAt?.getTime();
      apply(task, fields);
      // A new rule or a moved due date starts the series at this occurrence (COUNT/UNTIL counted from here).
      if (reanchor) task.seriesStart = fields.recurrence ? task.dueAt : null;
      if (fields.recurrence && !task.seriesId) task.seriesId = task.id;
    });
  }

  complete(caller: Caller, id: string, expectedVersion?: number | null): Promise<Task> {
    return this.mutate(caller, id, expectedVersion, EventType.TaskCompleted, (task, now) => {
      if (task.status === 'DONE') return false;
      task.status = 'DONE';
      task.completedAt = now;
    });
  }

  reopen(caller: Caller, id: string, expectedVersion?: number | null): Promise<Task> {
    return this.mutate(caller, id, expectedVersion, EventType.TaskReopened, (task) => {
      if (task.status === 'OPEN') return false;
      task.status = 'OPEN';
      task.completedAt = null;
    });
  }

  delete(caller: Caller, id: string, expectedVersion?: number | null): Promise<Task> {
    return this.em.transactional(async (tx) => {
      const task = await new TaskRepository(tx).findOwned(caller.userId, id, true);
      if (!task) throw notFound('Task', id);
      checkVersion(expectedVersion, task.version);
      const before = snapshotOf(task);
      tx.remove(task);
      await tx.flush();
      const now = new Date();
      const gone: TaskSnapshot = { ...before, version: before.version + 1, updatedAt: now.toISOString() };
      await appendToOutbox(tx, taskChangeEvents(EventType.TaskDeleted, gone, caller.userId, now));
      return { ...task, version: gone.version, updatedAt: now };
    });
  }

  /**
   * Creates the next occurrence of a completed recurring task inside the worker's transaction.
   * Returns null when a successor already exists (redelivery: exactly once by unique constraint).
   */
  async createOccurrence(tx: EntityManager, completed: Task, dueAt: Date): Promise<Task | null> {
    const existing = await tx.findOne(TaskSchema, { previousOccurrenceId: completed.id });
    if (existing) return null;
    // Absolute reminders keep their distance to the due date in the next occurrence.
    const shift = completed.dueAt ? dueAt.getTime() - completed.dueAt.getTime() : 0;
    const reminders = completed.reminders.map((r) =>
      r.at ? { offset: null, at: new Date(new Date(r.at).getTime() + shift).toISOString() } : r,
    );
    const task = this.newTask(tx, completed.userId, { ...fieldsOf(completed), dueAt, reminders }, completed);
    await this.commit(tx, task, EventType.TaskCreated, 'system:recurrence');
    return task;
  }

  private newTask(tx: EntityManager, userId: string, fields: TaskFields, previous: Task | null): Task {
    const now = new Date();
    const id = randomUUID();
    const task: Task = {
      id,
      userId,
      title: fields.title,
      notes: fields.notes,
      status: 'OPEN',
      priorityRank: PRIORITY_RANK[fields.priority],
      tags: fields.tags,
      dueAt: fields.dueAt,
      timeZone: fields.timeZone,
      recurrence: fields.recurrence,
      seriesStart: fields.recurrence ? (previous?.seriesStart ?? fields.dueAt) : null,
      seriesId: fields.recurrence ? (previous?.seriesId ?? id) : null,
      previousOccurrenceId: previous?.id ?? null,
      reminders: fields.reminders,
      completedAt: null,
      createdAt: now,
      updatedAt: now,
      version: 1,
    };
    return tx.create(TaskSchema, task);
  }

  private async commit(tx: EntityManager, task: Task, type: TaskEventType, actor: string, before?: TaskSnapshot): Promise<void> {
    await tx.flush();
    const after = snapshotOf(task);
    const changes = before ? diffSnapshots(before, after) : undefined;
    await appendToOutbox(tx, taskChangeEvents(type, after, actor, task.updatedAt, changes));
  }

  /** Locks the caller's task, checks the version, applies `change`; `false` from change = no-op. */
  private mutate(
    caller: Caller,
    id: string,
    expectedVersion: number | null | undefined,
    type: TaskEventType,
    change: (task: Task, now: Date) => undefined | false | void,
  ): Promise<Task> {
    return this.em.transactional(async (tx) => {
      const task = await new TaskRepository(tx).findOwned(caller.userId, id, true);
      if (!task) throw notFound('Task', id);
      checkVersion(expectedVersion, task.version);
      const before = snapshotOf(task);
      const now = new Date();
      if (change(task, now) === false) return task;
      const changes = diffSnapshots(before, snapshotOf(task));
      if (Object.keys(changes).length === 0) return task;
      task.version += 1;
      task.updatedAt = now;
      await this.commit(tx, task, type, caller.userId, before);
      return task;
    });
  }
}
