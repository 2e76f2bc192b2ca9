import type { Caller, EntityManager } from '@taskgraph/runtime';
import DataLoader from 'dataloader';
import type { Task } from './entities/task.entity.js';
import { TaskRepository } from './repositories/task.repository.js';

/** Per-request state: the caller, a forked EntityManager and fresh DataLoaders (CONVENTIONS §3). */
export interface TasksContext {
  caller: Caller;
  em: EntityManager;
  tasks: TaskRepository;
  taskById: DataLoader<string, Task | null>;
}

export function createContext(caller: Caller, em: EntityManager): TasksContext {
  const tasks = new TaskRepository(em);
  return {
    caller,
    em,
    tasks,
    // One SQL query per batch of entity references (ARCHITECTURE §6).
    taskById: new DataLoader(async (ids) => {
      const rows = await tasks.findManyOwned(caller.userId, ids);
      const byId = new Map(rows.map((t) => [t.id, t]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
  };
}
