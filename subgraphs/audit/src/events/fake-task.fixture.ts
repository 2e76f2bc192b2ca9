import { randomUUID } from 'node:crypto';
import { type Changes, EventType, type OutboxEvent, type TaskEventType, type TaskSnapshot } from '@taskgraph/events';
import { taskEventOf, taskSnapshot } from '@taskgraph/test-kit';

/** A task as the tasks service would evolve it, emitting its task-events (tests only). */
export class FakeTask {
  snapshot: TaskSnapshot;
  clock: Date;
  constructor(userId: string, title: string, at = new Date('2026-11-24T09:00:00Z')) {
    this.clock = at;
    this.snapshot = taskSnapshot({ id: randomUUID(), userId, title }, at.toISOString());
  }

  get id() {
    return this.snapshot.id;
  }

  created(): OutboxEvent {
    return taskEvent(EventType.TaskCreated, this.snapshot, this.snapshot.userId, this.clock);
  }

  /** Applies `patch`, bumps the version, returns the event with field-level changes. */
  change(type: TaskEventType, patch: Partial<TaskSnapshot>, opts: { actor?: string; stepMs?: number } = {}): OutboxEvent {
    this.clock = new Date(this.clock.getTime() + (opts.stepMs ?? 1000));
    const before = this.snapshot;
    const after: TaskSnapshot = { ...before, ...patch, version: before.version + 1, updatedAt: this.clock.toISOString() };
    const changes: Changes = {};
    for (const key of Object.keys(patch) as (keyof TaskSnapshot)[]) changes[key] = { from: before[key], to: after[key] };
    this.snapshot = after;
    return taskEvent(type, after, opts.actor ?? after.userId, this.clock, changes);
  }
}

export function taskEvent(type: TaskEventType, task: TaskSnapshot, actor: string, at: Date, changes?: Changes): OutboxEvent {
  return taskEventOf({ type, task, actor, occurredAt: at.toISOString(), changes });
}

/** A full lifecycle: create, update twice, complete, delete (5 events). */
export function lifecycle(task: FakeTask): OutboxEvent[] {
  return [
    task.created(),
    task.change(EventType.TaskUpdated, { title: `${task.snapshot.title}!`, notes: 'draft' }),
    task.change(EventType.TaskUpdated, { priority: 'HIGH', tags: ['work'] }),
    task.change(EventType.TaskCompleted, { status: 'DONE', completedAt: '2026-11-24T12:00:00.000Z' }),
    task.change(EventType.TaskDeleted, {}),
  ];
}
