/**
 * The static cost model of demand control, after the IBM cost directives (`@cost`, `@listSize`) that
 * Apollo Router and Hive Gateway implement, declared here by schema coordinate (`Type.field`) instead
 * of in the subgraph SDL so the subgraphs stay unaware of it (ARCHITECTURE §6).
 *
 * Per field selection: `cost = weight + size × (typeCost + cost of its selections)`, where
 * - `typeCost` is 1 for an object (one row, or one entity representation) and 0 for a scalar or enum;
 * - `size` is 1 for a single value, and for a list the value of its slicing argument (`first`), else
 *   its `assumedSize`, else `defaultListSize`; a connection's `sizedFields` (`edges`) take the size of
 *   the connection field, so `tasks(first: 5) { edges { node } }` counts 5 edges and 5 nodes;
 * - `weight` is a field's extra cost (0 by default): a separate subgraph fetch or SQL query
 *   (`history`, `auditLog`, the entity fetches of `task`/`reminders`).
 * Nested lists multiply. Every object in a response therefore costs at least 1 and the estimate is an
 * upper bound of the objects (rows) an operation can fetch, as long as the sizes are true maxima.
 * A mutation adds `mutationCost`; a subscription is costed per event (its selection set, once).
 */
export interface FieldCost {
  /** Extra cost of resolving the field once (a separate fetch or query), besides its objects. */
  weight?: number;
  /** Arguments whose value bounds the list length (`first`, `last`, `count`); the first one set wins. */
  slicingArguments?: readonly string[];
  /** Length assumed when no slicing argument has a value (the subgraph's own maximum). */
  assumedSize?: number;
  /** Child list fields (of the returned connection) whose length is this field's size (`edges`). */
  sizedFields?: readonly string[];
}

export interface CostModel {
  /** By schema coordinate, `Type.field`. Coordinates absent from the served schema are ignored. */
  readonly fields: Readonly<Record<string, FieldCost>>;
  /** Length assumed for a list field the model does not describe. */
  readonly defaultListSize: number;
  /** Added once to every mutation (writes cost more than reads). */
  readonly mutationCost: number;
}

/** A Relay connection of this API: `first` ≤ 100 (every subgraph refuses more), default 20. */
const connection = (weight: number): FieldCost => ({
  weight,
  slicingArguments: ['first', 'last'],
  assumedSize: 100,
  sizedFields: ['edges'],
});

/** An entity fetch from another subgraph (one more HTTP round trip and query per parent object batch). */
const ENTITY_FETCH = 2;

/**
 * The cost model of this API (checked against the composed supergraph by `cost-model.test.ts`).
 * Weights: a connection over Postgres 5, entity fetches 2, `history` (an entity fetch to audit plus
 * one query per task) 5.
 */
export const DEFAULT_COST_MODEL: CostModel = {
  defaultListSize: 100,
  mutationCost: 10,
  fields: {
    'Query.tasks': connection(5),
    'Query.auditLog': connection(5),
    'Query.notifications': connection(2),
    'Task.history': connection(5),
    'Task.reminders': { weight: ENTITY_FETCH, assumedSize: 10 }, // MAX_REMINDERS in tasks
    'Task.reminderRules': { assumedSize: 10 },
    'Task.nextOccurrences': { slicingArguments: ['count'], assumedSize: 50 },
    'AuditEntry.task': { weight: ENTITY_FETCH },
    'AuditEntry.changes': { assumedSize: 16 }, // one per task field changed (12 fields a change can touch)
    'Notification.task': { weight: ENTITY_FETCH },
    'TaskUpdate.task': { weight: ENTITY_FETCH },
    'ReminderDue.task': { weight: ENTITY_FETCH },
  },
};
