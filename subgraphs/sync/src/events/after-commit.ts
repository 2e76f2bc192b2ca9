import type { EntityManager } from '@taskgraph/runtime';

/**
 * Runs `effect` once `tx` has committed (never on rollback). The bus calls handlers inside a
 * transaction on a fork with its own event manager (MikroORM `transactional`), so the hook is
 * scoped to this one transaction. Publishing live only after commit is what makes the replay seam
 * gap-free: a subscriber that starts listening after the publish finds the row in the table.
 * Outside a transaction the effect runs at once.
 */
export function afterCommit(tx: EntityManager, effect: () => void): void {
  if (!tx.getTransactionContext()) {
    effect();
    return;
  }
  tx.getEventManager().registerSubscriber({
    afterTransactionCommit: () => {
      // The commit happened: a failing effect must not turn it into a handler error (and a retry).
      try {
        effect();
      } catch {
        // effects only enqueue into bounded in-memory queues; nothing to recover
      }
    },
  });
}
