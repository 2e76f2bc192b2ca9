import { onCommit } from '@taskgraph/events';
import type { EntityManager } from '@taskgraph/runtime';

/**
 * Runs `effect` once `tx` — the EntityManager the bus gave the handler — has committed (never on
 * rollback): the bus's `onCommit`, which also covers a batch of events handled in one transaction
 * (the effect runs when the batch commits). Publishing live only after commit is what makes the
 * replay seam gap-free: a subscriber that starts listening after the publish finds the row in the
 * table. Outside a transaction the effect runs at once.
 */
export function afterCommit(tx: EntityManager, effect: () => void): void {
  onCommit(tx, effect);
}
