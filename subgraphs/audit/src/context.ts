import type { Caller, EntityManager } from '@taskgraph/runtime';
import DataLoader from 'dataloader';
import { AuditEntryRepository, type AuditPage, type HistoryRequest } from './repositories/audit-entry.repository.js';
import { CausalWait } from './repositories/causal-wait.js';

/** Per-request state: the caller, a forked EntityManager and fresh DataLoaders (CONVENTIONS §3). */
export interface AuditContext {
  caller: Caller;
  em: EntityManager;
  entries: AuditEntryRepository;
  /** `Task.history(first, after)` pages: one SQL query per batch, whatever the mix of tasks and arguments. */
  history: DataLoader<HistoryRequest, AuditPage, string>;
  /** Waits for task versions an entity fetch asked for (`__causal` in the representation). */
  causal: CausalWait;
}

export function createContext(caller: Caller, em: EntityManager): AuditContext {
  const entries = new AuditEntryRepository(em);
  return {
    caller,
    em,
    entries,
    causal: new CausalWait(em, caller.userId),
    history: new DataLoader((requests) => entries.historyPages(caller.userId, requests), {
      cacheKeyFn: (r) => `${r.taskId}\u0000${r.first}\u0000${r.afterSeq ?? ''}\u0000${r.minVersion ?? ''}`,
      maxBatchSize: 1000,
    }),
  };
}
