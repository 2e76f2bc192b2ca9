import { createCipheriv, createDecipheriv, createHmac, hkdfSync } from 'node:crypto';

/**
 * Opaque, per-user change-feed cursors (issue 14; subgraphs/sync/README.md "Cursors").
 *
 * Inside, a cursor is a log position (the outbox seq): one global sequence, so its value would tell
 * any user how much everybody else is doing. On the wire it is that position encrypted and
 * authenticated for one user: AES-256-GCM with the user id as associated data and a synthetic
 * nonce (HMAC of user and position, SIV-style), so
 *
 * - it reveals nothing: the ciphertext is pseudorandom, fixed length (50 characters);
 * - it is deterministic: the same user and position give the same cursor (resume, dedupe and
 *   equality work as before; nonce reuse only ever happens for an identical plaintext);
 * - it is bound to its user: another user's cursor, or a modified one, fails authentication and
 *   is refused exactly like a cursor from before a key change (RESYNC_REQUIRED, nothing learned).
 *
 * Keys are derived (HKDF-SHA256) from the service's `INTERNAL_TOKEN_SECRET`; rotating that secret
 * turns every outstanding cursor into a RESYNC_REQUIRED (clients refetch), never into a wrong position.
 */
export interface CursorCodec {
  encode(userId: string, position: bigint): string;
  /** The position, or undefined when the cursor was not issued to `userId` (or was altered). */
  decode(userId: string, cursor: string): bigint | undefined;
}

const VERSION = 1;
const NONCE = 12;
const TAG = 16;
const BYTES = 1 + NONCE + 8 + TAG;
/** base64url of BYTES bytes: what the `Cursor` scalar accepts from clients. */
export const CURSOR_PATTERN = /^[A-Za-z0-9_-]{50}$/;

export function createCursorCodec(secret: string): CursorCodec {
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', secret, 'taskgraph-sync-cursor', info, 32));
  const encKey = derive('aes-256-gcm v1');
  const nonceKey = derive('nonce hmac v1');

  const nonceFor = (userId: string, plain: Buffer) =>
    createHmac('sha256', nonceKey).update(userId).update('\0').update(plain).digest().subarray(0, NONCE);

  return {
    encode(userId, position) {
      const plain = Buffer.alloc(8);
      plain.writeBigUInt64BE(position);
      const nonce = nonceFor(userId, plain);
      const cipher = createCipheriv('aes-256-gcm', encKey, nonce);
      cipher.setAAD(Buffer.from(userId, 'utf8'));
      const sealed = Buffer.concat([cipher.update(plain), cipher.final()]);
      return Buffer.concat([Buffer.of(VERSION), nonce, sealed, cipher.getAuthTag()]).toString('base64url');
    },
    decode(userId, cursor) {
      if (!CURSOR_PATTERN.test(cursor)) return undefined;
      const raw = Buffer.from(cursor, 'base64url');
      // Canonical only: 50 base64url characters carry 4 spare bits, which must not give one position many cursors.
      if (raw.length !== BYTES || raw[0] !== VERSION || raw.toString('base64url') !== cursor) return undefined;
      const nonce = raw.subarray(1, 1 + NONCE);
      const decipher = createDecipheriv('aes-256-gcm', encKey, nonce);
      decipher.setAAD(Buffer.from(userId, 'utf8'));
      decipher.setAuthTag(raw.subarray(BYTES - TAG));
      try {
        const plain = Buffer.concat([decipher.update(raw.subarray(1 + NONCE, BYTES - TAG)), decipher.final()]);
        // The nonce is a function of (user, position): a valid tag under another nonce cannot happen
        // for honest cursors, so checking it costs nothing and closes any nonce-malleability question.
        if (!nonceFor(userId, plain).equals(nonce)) return undefined;
        return plain.readBigUInt64BE();
      } catch {
        return undefined;
      }
    },
  };
}
