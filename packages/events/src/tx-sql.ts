/** Raw SQL in the caller's transaction lives in the runtime (one implementation); re-exported for the bus's modules. */
export { executeSql, type SqlResult } from '@taskgraph/runtime';

/** Thrown inside a transaction callback to roll it back on purpose (RETRY/DROP, already handled). */
export class Rollback<T> extends Error {
  constructor(readonly outcome: T) {
    super('rollback');
    this.name = 'Rollback';
  }
}
