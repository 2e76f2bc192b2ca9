import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createAuthenticator } from './auth.js';
import { DEFAULT_JWT_AUDIENCE, DEFAULT_JWT_ISSUER, DEV_JWT_SECRET, repoRoot } from './config.js';

const run = promisify(execFile);
const script = join(repoRoot(), 'scripts', 'token.mjs');
const cleanEnv = () => {
  const env = { ...process.env };
  for (const name of ['JWT_SECRET', 'JWT_ISSUER', 'JWT_AUDIENCE', 'NODE_ENV', 'NODE_OPTIONS']) delete env[name];
  return env;
};

describe('npm run token', () => {
  it('prints a token the gateway accepts with its development default', async () => {
    const { stdout } = await run(process.execPath, [script, 'alice'], { env: cleanEnv() });
    const authenticate = createAuthenticator({ secret: DEV_JWT_SECRET, issuer: DEFAULT_JWT_ISSUER, audience: DEFAULT_JWT_AUDIENCE });
    await expect(authenticate(`Bearer ${stdout.trim()}`)).resolves.toEqual({ userId: 'alice' });
  });

  it('follows JWT_SECRET, JWT_ISSUER and JWT_AUDIENCE', async () => {
    const env = { ...cleanEnv(), JWT_SECRET: 'z'.repeat(40), JWT_ISSUER: 'iss', JWT_AUDIENCE: 'aud' };
    const { stdout } = await run(process.execPath, [script, 'bob', '--ttl', '60'], { env });
    await expect(
      createAuthenticator({ secret: 'z'.repeat(40), issuer: 'iss', audience: 'aud' })(`Bearer ${stdout.trim()}`),
    ).resolves.toEqual({
      userId: 'bob',
    });
    const dev = createAuthenticator({ secret: DEV_JWT_SECRET, issuer: 'iss', audience: 'aud' });
    await expect(dev(`Bearer ${stdout.trim()}`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('exits with usage when the user is missing', async () => {
    await expect(run(process.execPath, [script], { env: cleanEnv() })).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/usage/),
    });
  });
});
