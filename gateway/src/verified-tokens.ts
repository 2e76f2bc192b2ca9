/** How long a verified client token is trusted without re-checking it (bounds a JWKS key rotation's lag). */
const REVERIFY_AFTER_MS = 60_000;
const MAX_ENTRIES = 10_000;

/**
 * Client tokens already verified by this process, until their `exp` (and at most a minute): a
 * client sends the same token with every request, and verifying it (WebCrypto HMAC or signature
 * check, claim checks) was 12% of the gateway's CPU per request. Keyed by the whole token string,
 * signature included, so nothing unverified ever matches; failures are never remembered.
 */
export class VerifiedTokens<T> {
  /** token → result; insertion order = oldest first (evicted first when full). */
  private readonly entries = new Map<string, { value: T; until: number }>();

  get(token: string): T | undefined {
    const hit = this.entries.get(token);
    if (!hit) return undefined;
    if (hit.until > Date.now()) return hit.value;
    this.entries.delete(token);
    return undefined;
  }

  /** Remembers a verified token until `expSeconds` (its `exp` claim), at most `REVERIFY_AFTER_MS`. */
  set(token: string, value: T, expSeconds: number): void {
    const until = Math.min(expSeconds * 1000, Date.now() + REVERIFY_AFTER_MS);
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(token, { value, until });
  }
}
