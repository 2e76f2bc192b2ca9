import { badInput } from '@taskgraph/runtime';

/**
 * Opaque cursors: base64url of a JSON tuple. `auditLog` pages on (occurredAt, seq), `history` on
 * seq alone; a cursor from one connection is refused by the other.
 */
export interface LogCursor {
  /** occurred_at with microseconds, UTC (`2026-11-24T09:00:00.123456Z`): exact for keyset comparison. */
  occurredAt: string;
  seq: string;
}

const SEQ = /^\d{1,19}$/;
const OCCURRED = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

const encode = (value: unknown[]) => Buffer.from(JSON.stringify(value)).toString('base64url');

function decode(cursor: string): unknown[] | null {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    return Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

export const encodeLogCursor = (c: LogCursor): string => encode(['log', c.occurredAt, c.seq]);

export function decodeLogCursor(cursor: string): LogCursor {
  const v = decode(cursor);
  if (
    v &&
    v.length === 3 &&
    v[0] === 'log' &&
    typeof v[1] === 'string' &&
    OCCURRED.test(v[1]) &&
    typeof v[2] === 'string' &&
    SEQ.test(v[2])
  ) {
    return { occurredAt: v[1], seq: v[2] };
  }
  throw badInput('invalid cursor for auditLog', 'after');
}

export const encodeHistoryCursor = (seq: string): string => encode(['history', seq]);

export function decodeHistoryCursor(cursor: string): string {
  const v = decode(cursor);
  if (v && v.length === 2 && v[0] === 'history' && typeof v[1] === 'string' && SEQ.test(v[1])) return v[1];
  throw badInput('invalid cursor for history', 'after');
}
