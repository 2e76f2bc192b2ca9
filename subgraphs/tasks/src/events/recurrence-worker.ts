import { drop, type EventHandler, EventType, SUCCESS, type Subscription, Topic } from '@taskgraph/events';
import type { Logger } from '@taskgraph/runtime';
import { nextOccurrence } from '../domain/recurrence.js';
import { TaskCommands } from '../domain/task-commands.js';
import { TaskSchema } from '../entities/task.entity.js';

export const RECURRENCE_GROUP = 'tasks-recurrence';

/**
 * Recurrence worker (consumes `task-events`): when a recurring task is completed, creates the
 * next occurrence in the same transaction as the consumer's offset / dedupe marker. The
 * successor's unique `previous_occurrence_id` makes it exactly once even across redeliveries.
 * It reads the task's current row: a deleted task ends its series, an edited rule changes it.
 */
export function recurrenceWorker(logger: Logger): Subscription {
  const handler: EventHandler = async (event, tx) => {
    if (event.type !== EventType.TaskCompleted) return SUCCESS;
    const data = event.data as { taskId: string };
    const task = await tx.findOne(TaskSchema, { id: data.taskId });
    if (!task || !task.recurrence || !task.dueAt) return SUCCESS;
    let due: Date | null;
    try {
      due = nextOccurrence(task.recurrence, task.seriesStart ?? task.dueAt, task.timeZone ?? 'UTC', task.dueAt);
    } catch (error) {
      return drop(`cannot expand recurrence of ${task.id}: ${(error as Error).message}`);
    }
    if (!due) return SUCCESS; // UNTIL/COUNT reached: the series ends here.
    const created = await new TaskCommands(tx).createOccurrence(tx, task, due);
    if (created) logger.info({ taskId: task.id, next: created.id, dueAt: due.toISOString() }, 'next occurrence created');
    return SUCCESS;
  };
  return { group: RECURRENCE_GROUP, topic: Topic.TaskEvents, types: [EventType.TaskCompleted], handler };
}
