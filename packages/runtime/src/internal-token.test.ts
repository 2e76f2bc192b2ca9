import { AppError } from './errors.js';
import { signInternalToken, verifyInternalToken } from './internal-token.js';

const SECRET = 's'.repeat(40);
const OTHER = 'o'.repeat(40);

const code = async (promise: Promise<unknown>) => {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    return error instanceof AppError ? error.code : 'other';
  }
};

describe('verifyInternalToken', () => {
  it('accepts a token signed with the secret, again from the cache, and never under another secret', async () => {
    const token = await signInternalToken('alice', SECRET);
    expect(await verifyInternalToken(token, SECRET)).toEqual({ userId: 'alice' });
    expect(await verifyInternalToken(token, SECRET)).toEqual({ userId: 'alice' });
    expect(await code(verifyInternalToken(token, OTHER))).toBe('UNAUTHENTICATED');
  });

  it('refuses missing, forged and tampered tokens, also after a valid one was cached', async () => {
    const token = await signInternalToken('bob', SECRET);
    await verifyInternalToken(token, SECRET);
    const [header, , signature] = token.split('.');
    const payload = Buffer.from(
      JSON.stringify({ sub: 'mallory', aud: 'taskgraph-subgraphs', iss: 'taskgraph-gateway', exp: 9_999_999_999 }),
    ).toString('base64url');
    expect(await code(verifyInternalToken(`${header}.${payload}.${signature}`, SECRET))).toBe('UNAUTHENTICATED');
    expect(await code(verifyInternalToken(await signInternalToken('bob', OTHER), SECRET))).toBe('UNAUTHENTICATED');
    expect(await code(verifyInternalToken(undefined, SECRET))).toBe('UNAUTHENTICATED');
  });

  it('stops accepting a cached token once it expires', async () => {
    const token = await signInternalToken('carol', SECRET, 1);
    expect(await verifyInternalToken(token, SECRET)).toEqual({ userId: 'carol' });
    await new Promise((r) => setTimeout(r, 2_100));
    expect(await code(verifyInternalToken(token, SECRET))).toBe('UNAUTHENTICATED');
  });
});
