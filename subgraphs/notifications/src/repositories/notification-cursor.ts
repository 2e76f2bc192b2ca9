import { badInput } from '@taskgraph/runtime';

/** Opaque cursor of `notifications(after)`: base64url of `[createdAt ISO, id]` (newest first). */
export function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(JSON.stringify([createdAt.toISOString(), id])).toString('base64url');
}

export function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string') {
      const createdAt = new Date(value[0]);
      if (!Number.isNaN(createdAt.getTime()) && /^[0-9a-f-]{36}$/.test(value[1])) return { createdAt, id: value[1] };
    }
  } catch {
    // fall through
  }
  throw badInput('invalid cursor', 'after');
}
