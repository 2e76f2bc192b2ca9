import type { AuditEntry as AuditEntryRow } from '../entities/audit-entry.entity.js';

export const AuditEntry = {
  // A reference only: the gateway resolves it through tasks, which returns null for a deleted
  // (or foreign) task, so `task` is null exactly when the task is gone.
  task: (entry: AuditEntryRow) => ({ __typename: 'Task', id: entry.taskId }),
};
