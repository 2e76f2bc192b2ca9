import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createAuthenticator, signDevToken } from './auth.js';

const hs = { secret: 'a'.repeat(40), issuer: 'taskgraph', audience: 'taskgraph' };

describe('createAuthenticator (HS256)', () => {
  const authenticate = createAuthenticator(hs);

  it('returns the subject of a valid token', async () => {
    await expect(authenticate(`Bearer ${await signDevToken('alice', hs)}`)).resolves.toEqual({ userId: 'alice' });
    await expect(authenticate(`bearer   ${await signDevToken('bob', hs)}`)).resolves.toEqual({ userId: 'bob' });
  });

  it('refuses a token without a subject', async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(hs.issuer)
      .setAudience(hs.audience)
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(hs.secret));
    await expect(authenticate(`Bearer ${token}`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: 'Invalid token' });
  });

  const unsigned = (claims: (jwt: SignJWT) => SignJWT) =>
    claims(new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setIssuer(hs.issuer).setAudience(hs.audience)).sign(
      new TextEncoder().encode(hs.secret),
    );

  it('refuses a token without exp (it would never expire)', async () => {
    const token = await unsigned((jwt) => jwt.setIssuedAt());
    await expect(authenticate(`Bearer ${token}`)).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
      message: 'Token has no expiry (exp): it is refused',
    });
  });

  it('refuses a lifetime above the maximum, from iat or (without iat) from now, and accepts one at the maximum', async () => {
    const strict = createAuthenticator({ ...hs, maxLifetimeSeconds: 600 });
    const now = Math.floor(Date.now() / 1000);
    const tooLong = { code: 'UNAUTHENTICATED', message: 'Token lifetime exceeds the maximum of 600 s' };
    await expect(strict(`Bearer ${await unsigned((jwt) => jwt.setIssuedAt(now).setExpirationTime(now + 601))}`)).rejects.toMatchObject(
      tooLong,
    );
    await expect(strict(`Bearer ${await unsigned((jwt) => jwt.setExpirationTime(now + 3600))}`)).rejects.toMatchObject(tooLong);
    // Issued long ago with a long lifetime: still too long, even though little of it is left.
    await expect(
      strict(`Bearer ${await unsigned((jwt) => jwt.setIssuedAt(now - 3500).setExpirationTime(now + 100))}`),
    ).rejects.toMatchObject(tooLong);
    await expect(strict(`Bearer ${await unsigned((jwt) => jwt.setIssuedAt(now).setExpirationTime(now + 600))}`)).resolves.toEqual({
      userId: 'alice',
    });
    await expect(strict(`Bearer ${await unsigned((jwt) => jwt.setExpirationTime(now + 590))}`)).resolves.toEqual({ userId: 'alice' });
    // The default maximum (24 h) takes the dev tokens (1 h) and refuses a week.
    await expect(
      authenticate(`Bearer ${await unsigned((jwt) => jwt.setIssuedAt(now).setExpirationTime(now + 7 * 86400))}`),
    ).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
      message: 'Token lifetime exceeds the maximum of 86400 s',
    });
  });

  it('refuses a token signed with HS512 under the same secret (algorithm pinned)', async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS512' })
      .setSubject('alice')
      .setIssuer(hs.issuer)
      .setAudience(hs.audience)
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(hs.secret));
    await expect(authenticate(`Bearer ${token}`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});

describe('createAuthenticator (JWKS)', () => {
  let server: Server;
  let jwksUrl: string;
  let privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  let fetches = 0;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    server = createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const rs256 = (sub: string, kid = 'k1') =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid })
      .setSubject(sub)
      .setIssuer('https://id.example.com')
      .setAudience('taskgraph')
      .setExpirationTime('5m')
      .sign(privateKey);

  it('verifies RS256 tokens against the remote key set, fetching it once', async () => {
    const authenticate = createAuthenticator({ jwksUrl, issuer: 'https://id.example.com', audience: 'taskgraph' });
    await expect(authenticate(`Bearer ${await rs256('carol')}`)).resolves.toEqual({ userId: 'carol' });
    await expect(authenticate(`Bearer ${await rs256('dave')}`)).resolves.toEqual({ userId: 'dave' });
    expect(fetches).toBe(1);
  });

  it('refuses HS256 tokens in JWKS mode (no algorithm confusion)', async () => {
    const authenticate = createAuthenticator({ jwksUrl, issuer: 'https://id.example.com', audience: 'taskgraph' });
    const hsToken = await signDevToken('mallory', { secret: 'a'.repeat(40), issuer: 'https://id.example.com', audience: 'taskgraph' });
    await expect(authenticate(`Bearer ${hsToken}`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: 'Invalid token' });
  });
});
