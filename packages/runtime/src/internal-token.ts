import { jwtVerify, SignJWT } from 'jose';
import { AppError, ErrorCode } from './errors.js';

/** Header the gateway uses to call subgraphs; subgraphs refuse requests without a valid one. */
export const INTERNAL_TOKEN_HEADER = 'x-taskgraph-internal';
const AUDIENCE = 'taskgraph-subgraphs';
const ISSUER = 'taskgraph-gateway';

/** Identity carried from the gateway to the subgraphs. */
export interface Caller {
  readonly userId: string;
}

const encode = (secret: string) => new TextEncoder().encode(secret);

/** Signs a short-lived internal token (ARCHITECTURE §7). */
export async function signInternalToken(userId: string, secret: string, ttlSeconds = 120): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(userId)
    .setAudience(AUDIENCE)
    .setIssuer(ISSUER)
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(encode(secret));
}

/** Verifies an internal token; throws UNAUTHENTICATED when absent, forged or expired. */
export async function verifyInternalToken(token: string | undefined, secret: string): Promise<Caller> {
  if (!token) throw new AppError(ErrorCode.UNAUTHENTICATED, 'Missing internal token: subgraphs are only reachable through the gateway');
  // The gateway reuses a user's token for half its lifetime, so most requests carry a token this
  // process has already verified: skip the HMAC and claim checks until its own expiry. Keyed by the
  // whole token (signature included) and the secret, so nothing unverified ever matches.
  const cacheKey = `${secret.length}:${secret}\u0000${token}`;
  const hit = verified.get(cacheKey);
  if (hit && hit.expiresAt > Date.now()) return hit.caller;
  try {
    const { payload } = await jwtVerify(token, encode(secret), { audience: AUDIENCE, issuer: ISSUER, algorithms: ['HS256'] });
    if (!payload.sub || !payload.exp) throw new Error('no subject or expiry');
    const caller = { userId: payload.sub };
    if (verified.size >= VERIFIED_CACHE_MAX) verified.delete(verified.keys().next().value as string);
    verified.set(cacheKey, { caller, expiresAt: payload.exp * 1000 });
    return caller;
  } catch {
    throw new AppError(ErrorCode.UNAUTHENTICATED, 'Invalid internal token: subgraphs are only reachable through the gateway');
  }
}

const VERIFIED_CACHE_MAX = 10_000;
/** Verified internal tokens (oldest first, bounded): token → caller until the token's `exp`. */
const verified = new Map<string, { caller: Caller; expiresAt: number }>();

/** Caches signed internal tokens per user so the hot path does not sign on every request. */
export class InternalTokenSigner {
  private readonly cache = new Map<string, { token: string; renewAt: number }>();
  constructor(
    private readonly secret: string,
    private readonly ttlSeconds = 120,
  ) {}

  async tokenFor(userId: string): Promise<string> {
    const now = Date.now();
    const hit = this.cache.get(userId);
    if (hit && hit.renewAt > now) return hit.token;
    const token = await signInternalToken(userId, this.secret, this.ttlSeconds);
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(userId, { token, renewAt: now + (this.ttlSeconds * 1000) / 2 });
    return token;
  }
}
