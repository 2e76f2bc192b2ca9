import { badInput } from '@taskgraph/runtime';

/** Orders `tasks(orderBy)` supports; each is a keyset over (key, id). */
export const TASK_ORDERS = {
  CREATED_AT_DESC: { expr: 't.created_at', dir: 'desc', type: 'timestamptz' },
  CREATED_AT_ASC: { expr: 't.created_at', dir: 'asc', type: 'timestamptz' },
  UPDATED_AT_DESC: { expr: 't.updated_at', dir: 'desc', type: 'timestamptz' },
  // Tasks without a due date sort last in both directions.
  DUE_AT_ASC: { expr: "coalesce(t.due_at, 'infinity'::timestamptz)", dir: 'asc', type: 'timestamptz' },
  DUE_AT_DESC: { expr: "coalesce(t.due_at, '-infinity'::timestamptz)", dir: 'desc', type: 'timestamptz' },
  PRIORITY_DESC: { expr: 't.priority_rank', dir: 'desc', type: 'smallint' },
} as const;
export type TaskOrder = keyof typeof TASK_ORDERS;

/** Opaque cursor: base64url of `[order, key, id]`; a cursor from another order is refused. */
export function encodeCursor(order: TaskOrder, key: string | number, id: string): string {
  return Buffer.from(JSON.stringify([order, key, id])).toString('base64url');
}

export function decodeCursor(order: TaskOrder, cursor: string): { key: string | number; id: string } {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(value) && value.length === 3 && value[0] === order && typeof value[2] === 'string') {
      const key = value[1] as unknown;
      if ((typeof key === 'string' || typeof key === 'number') && /^[0-9a-f-]{36}$/.test(value[2])) return { key, id: value[2] };
    }
  } catch {
    // fall through
  }
  throw badInput('invalid cursor for this orderBy', 'after');
}
