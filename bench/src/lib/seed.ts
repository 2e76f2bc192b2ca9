import { BENCH_USER, type RunningSystemChild, waitUntil } from './harness.js';

export interface SeedOptions {
  tasks: number;
  /** Reminder rules per task (offsets before a due date two days ahead). */
  reminders: number;
  /** Title updates per task after creation (each adds an audit entry). */
  updates: number;
  /** Mutations in flight at once. */
  concurrency?: number;
}

export interface SeededTask {
  id: string;
  version: number;
}

const CREATE = `mutation Seed($input: CreateTaskInput!) { createTask(input: $input) { id version } }`;
const UPDATE = `mutation SeedUpdate($id: ID!, $title: String!, $v: Int) { updateTask(id: $id, input: { title: $title }, expectedVersion: $v) { id version } }`;

async function inParallel<T>(count: number, concurrency: number, work: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await work(i);
      }
    }),
  );
  return results;
}

/** Every consumer group of the embedded bus has handled everything in its topic. */
export async function busIdle(system: RunningSystemChild): Promise<boolean> {
  const [row] = await system.sql<{ idle: boolean }>(
    `select coalesce(bool_and(o.seq >= coalesce((select max(seq) from bus.outbox b where b.topic = o.topic), 0)), true) as idle
       from bus.consumer_offsets o`,
  );
  return row?.idle === true;
}

/** Creates the benchmark user's tasks through the gateway, updates them, and waits for every consumer. */
export async function seedTasks(system: RunningSystemChild, options: SeedOptions): Promise<SeededTask[]> {
  const dueAt = new Date(Date.now() + 2 * 24 * 3600 * 1000).toISOString();
  const reminders = Array.from({ length: options.reminders }, (_, i) => ({ offset: `PT${15 * (i + 1)}M` }));
  const concurrency = options.concurrency ?? 8;
  const tasks = await inParallel(options.tasks, concurrency, async (i) => {
    const data = await system.graphql<{ createTask: SeededTask }>(CREATE, {
      input: { title: `bench task ${i}`, priority: 'HIGH', tags: ['bench'], dueAt, reminders },
    });
    let task = data.createTask;
    for (let u = 0; u < options.updates; u++) {
      const updated = await system.graphql<{ updateTask: SeededTask }>(UPDATE, {
        id: task.id,
        title: `bench task ${i} v${u + 2}`,
        v: task.version,
      });
      task = updated.updateTask;
    }
    return task;
  });
  const expectedAudit = options.tasks * (1 + options.updates);
  await waitUntil(
    `${expectedAudit} audit entries`,
    async () => {
      const [row] = await system.sql<{ n: number }>('select count(*)::int as n from audit.audit_entry where user_id = $1', [BENCH_USER]);
      return (row?.n ?? 0) >= expectedAudit;
    },
    120_000,
  );
  await waitUntil('every consumer caught up', () => busIdle(system), 120_000);
  return tasks;
}
