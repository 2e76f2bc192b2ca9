import type { EntityManager } from '@taskgraph/runtime';

/** After-commit effects of the handler running on each EntityManager the bus handed out. */
const pending = new WeakMap<EntityManager, (() => void)[]>();

/**
 * Runs `effect` once the transaction of `tx` — the EntityManager a bus handler was given — has
 * committed, and never if it rolls back (ARCHITECTURE §3). The embedded consumer handles a batch
 * of events in one transaction, each in its own savepoint: the effects of an event run after the
 * batch commits, in log order, and are discarded with the event's savepoint when it is retried
 * or dropped. On another EntityManager it falls back to MikroORM's `afterTransactionCommit` hook
 * of that transaction, or runs at once outside a transaction. An effect that throws is logged by
 * nobody and stops nothing: effects must only hand work on (enqueue, wake).
 */
export function onCommit(tx: EntityManager, effect: () => void): void {
  const list = pending.get(tx);
  if (list) {
    list.push(effect);
    return;
  }
  if (!tx.getTransactionContext()) {
    runEffect(effect);
    return;
  }
  tx.getEventManager().registerSubscriber({ afterTransactionCommit: () => runEffect(effect) });
}

/** Collects the effects registered on `em` (a handler's savepoint EntityManager). */
export function collectEffects(em: EntityManager): () => (() => void)[] {
  const list: (() => void)[] = [];
  pending.set(em, list);
  return () => {
    pending.delete(em);
    return list;
  };
}

export function runEffect(effect: () => void): void {
  try {
    effect();
  } catch {
    // The commit happened: a failing effect must not turn into a handler error (and a retry).
  }
}
