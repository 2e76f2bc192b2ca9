import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoPath } from './support/apps.js';

/**
 * `npm run minikube:secrets` writes the env files the minikube overlay's secretGenerator reads: the same
 * keys as the committed templates (which the other deploy tests render), random values that the services
 * accept, and it never replaces existing files unless forced (Postgres keeps its first password).
 */
const parse = (text: string) =>
  Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
const FILES = ['db.env', 'app.env', 'app-api-token.env'];

describe('scripts/minikube-secrets.mjs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'taskgraph-minikube-secrets-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = (...args: string[]) => execFileSync(process.execPath, [repoPath('scripts', 'minikube-secrets.mjs'), '--dir', dir, ...args]);

  it('writes every key of the templates, with values the services accept', () => {
    run();
    for (const file of FILES) {
      const template = parse(readFileSync(repoPath('k8s', 'overlays', 'minikube', 'secrets', `${file}.example`), 'utf8'));
      const written = parse(readFileSync(join(dir, file), 'utf8'));
      expect(Object.keys(written).sort()).toEqual(Object.keys(template).sort());
    }
    const db = parse(readFileSync(join(dir, 'db.env'), 'utf8'));
    expect(db['database-url']).toBe(`postgres://taskgraph:${db['postgres-password']}@postgres:5432/taskgraph`);
    const app = parse(readFileSync(join(dir, 'app.env'), 'utf8'));
    // INTERNAL_TOKEN_SECRET must be ≥ 32 characters (packages/runtime config).
    expect(app['internal-token-secret']).toMatch(/^[0-9a-f]{64}$/);
    expect(app['jwt-secret']).toMatch(/^[0-9a-f]{64}$/);
    expect(app['jwt-secret']).not.toBe(app['internal-token-secret']);
    expect(parse(readFileSync(join(dir, 'app-api-token.env'), 'utf8')).token).toMatch(/^[0-9a-f]{64}$/);
  });

  it('keeps existing files, replaces them with --force', () => {
    writeFileSync(join(dir, 'app-api-token.env'), 'token=kept\n');
    run();
    expect(readFileSync(join(dir, 'app-api-token.env'), 'utf8')).toBe('token=kept\n');
    run('--force');
    expect(readFileSync(join(dir, 'app-api-token.env'), 'utf8')).not.toBe('token=kept\n');
  });

  it('the real files are never committed', () => {
    const ignored = execFileSync('git', ['check-ignore', ...FILES.map((f) => `k8s/overlays/minikube/secrets/${f}`)], {
      cwd: repoPath(),
      encoding: 'utf8',
    });
    expect(ignored.trim().split('\n')).toHaveLength(FILES.length);
  });
});
