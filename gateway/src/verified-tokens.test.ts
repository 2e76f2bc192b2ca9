import { createAuthenticator, signDevToken } from './auth.js';
import { DEFAULT_JWT_AUDIENCE, DEFAULT_JWT_ISSUER, DEV_JWT_SECRET } from './config.js';
import { VerifiedTokens } from './verified-tokens.js';

describe('VerifiedTokens', () => {
  it('serves a token until its exp, never after', () => {
    const tokens = new VerifiedTokens<string>();
    const now = Math.floor(Date.now() / 1000);
    tokens.set('live', 'alice', now + 3600);
    tokens.set('dead', 'bob', now - 1);
    expect(tokens.get('live')).toBe('alice');
    expect(tokens.get('dead')).toBeUndefined();
    expect(tokens.get('unknown')).toBeUndefined();
  });
});

describe('authenticator with remembered tokens', () => {
  const jwt = { secret: DEV_JWT_SECRET, issuer: DEFAULT_JWT_ISSUER, audience: DEFAULT_JWT_AUDIENCE };

  it('still refuses a tampered token after the genuine one was verified', async () => {
    const authenticate = createAuthenticator(jwt);
    const token = await signDevToken('alice', jwt);
    expect(await authenticate(`Bearer ${token}`)).toEqual({ userId: 'alice' });
    expect(await authenticate(`Bearer ${token}`)).toEqual({ userId: 'alice' });
    const [header, , signature] = token.split('.');
    const forged = `${header}.${Buffer.from(JSON.stringify({ sub: 'bob', iss: jwt.issuer, aud: jwt.audience, exp: 9_999_999_999 })).toString('base64url')}.${signature}`;
    await expect(authenticate(`Bearer ${forged}`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(authenticate(`Bearer ${token.slice(0, -2)}xx`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('refuses an expired token and remembers nothing for it', async () => {
    const authenticate = createAuthenticator(jwt);
    // Expired already (beyond the 5 s clock tolerance): never verified, never remembered.
    const expired = await signDevToken('alice', { ...jwt, ttlSeconds: -10 });
    await expect(authenticate(`Bearer ${expired}`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});
