import { BigIntType, EntitySchema } from '@mikro-orm/core';

/** What happened to a task, derived from the domain event type. */
export type AuditAction = 'CREATED' | 'UPDATED' | 'COMPLETED' | 'REOPENED' | 'DELETED';

/** One field a change touched (stored as a list in the task snapshot's field order). */
export interface FieldChange {
  field: string;
  from: unknown;
  to: unknown;
}

/** An audit row (schema `audit`): append-only, the database refuses UPDATE, DELETE and TRUNCATE. */
export interface AuditEntry {
  id: string;
  /** Insertion order (bigserial, as a decimal string): tiebreak of the newest-first orders and the history cursor. */
  seq: string;
  /** Unique: one entry per domain event, so a re-delivered event adds nothing. */
  eventId: string;
  taskId: string;
  userId: string;
  action: AuditAction;
  actor: string;
  occurredAt: Date;
  recordedAt: Date;
  /** Task version after the change. */
  version: number;
  changes: FieldChange[];
  /** The task snapshot after the change. */
  snapshot: Record<string, unknown> | null;
}

export const AuditEntrySchema = new EntitySchema<AuditEntry>({
  name: 'AuditEntry',
  tableName: 'audit_entry',
  properties: {
    id: { type: 'uuid', primary: true },
    seq: { type: new BigIntType('string'), unique: 'audit_entry_seq_unique' },
    eventId: { type: 'uuid', unique: 'audit_entry_event_id_unique' },
    taskId: { type: 'uuid' },
    userId: { type: 'text' },
    action: { type: 'text' },
    actor: { type: 'text' },
    occurredAt: { type: 'datetime', columnType: 'timestamptz' },
    recordedAt: { type: 'datetime', columnType: 'timestamptz' },
    version: { type: 'integer' },
    changes: { type: 'json' },
    snapshot: { type: 'json', nullable: true },
  },
});
