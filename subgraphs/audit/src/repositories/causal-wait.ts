import { AppError, type EntityManager, ErrorCode } from '@taskgraph/runtime';
import DataLoader from 'dataloader';

/**
 * How long `Task.history` waits for audit to record the version an event is about (causal
 * freshness, ARCHITECTURE §6). Past it the field fails with UPSTREAM_TIMEOUT instead of answering
 * a history that silently lacks the event.
 */
export const CAUSAL_WAIT_MS = 2_000;

/** Poll delays while waiting (ms): quick at first (the usual lag is one consumer batch), then steady. */
const DELAYS = [2, 5, 10, 20, 40, 80, 150];

/** One version of one task that a response must reflect. */
export interface RecordedVersion {
  taskId: string;
  version: number;
}

/**
 * Per request: waits until audit has recorded given task versions of the caller. The existence
 * checks of all references waiting at the same moment are one query (DataLoader batch).
 */
export class CausalWait {
  private readonly recorded: DataLoader<RecordedVersion, boolean, string>;

  constructor(
    em: EntityManager,
    private readonly userId: string,
    private readonly timeoutMs = CAUSAL_WAIT_MS,
  ) {
    this.recorded = new DataLoader(
      async (keys) => {
        const rows = await em.getConnection().execute<{ task_id: string; version: number }[]>(
          `select e.task_id, e.version
             from jsonb_to_recordset(?::jsonb) as r(task_id uuid, version int)
             join audit.audit_entry e on e.task_id = r.task_id and e.version = r.version and e.user_id = ?`,
          [JSON.stringify(keys.map((k) => ({ task_id: k.taskId, version: k.version }))), this.userId],
        );
        const found = new Set(rows.map((row) => `${row.task_id}\u0000${Number(row.version)}`));
        return keys.map((k) => found.has(`${k.taskId.toLowerCase()}\u0000${k.version}`));
      },
      { cache: false, cacheKeyFn: (k) => `${k.taskId}\u0000${k.version}` },
    );
  }

  /** Resolves once `version` of `taskId` is recorded; rejects with UPSTREAM_TIMEOUT after the bound. */
  async until(taskId: string, version: number): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      if (await this.recorded.load({ taskId, version })) return;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new AppError(
          ErrorCode.UPSTREAM_TIMEOUT,
          `Audit has not recorded version ${version} of this task yet (waited ${this.timeoutMs} ms): query the history again later`,
          { minVersion: version },
        );
      }
      const delay = DELAYS[Math.min(attempt, DELAYS.length - 1)]!;
      await new Promise((resolve) => setTimeout(resolve, Math.min(delay, left)));
    }
  }
}
