#!/usr/bin/env node
// Writes the minikube overlay's secret env files (k8s/overlays/minikube/secrets/*.env, git-ignored) with
// random values, for its kustomize secretGenerator: `kubectl apply -k k8s/overlays/minikube` then creates
// taskgraph-db, taskgraph-secrets and taskgraph-app-api-token itself. Existing files are kept (Postgres
// keeps the password it was initialised with); `--force` replaces them. `--dir <path>` writes elsewhere.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const force = args.includes('--force');
const dirAt = args.indexOf('--dir');
const dir = dirAt >= 0 ? args[dirAt + 1] : fileURLToPath(new URL('../k8s/overlays/minikube/secrets/', import.meta.url));
if (!dir) throw new Error('--dir needs a path');

const hex = (bytes) => randomBytes(bytes).toString('hex');
const password = hex(16);
const files = {
  'db.env': { 'postgres-password': password, 'database-url': `postgres://taskgraph:${password}@postgres:5432/taskgraph` },
  'app.env': { 'internal-token-secret': hex(32), 'jwt-secret': hex(32) },
  'app-api-token.env': { token: hex(32) },
};

mkdirSync(dir, { recursive: true });
if (!force && Object.keys(files).some((name) => existsSync(join(dir, name)))) {
  console.log(`kept the existing secrets in ${dir} (--force replaces them; then delete the Postgres volume too)`);
  process.exit(0);
}
for (const [name, pairs] of Object.entries(files)) {
  const text = Object.entries(pairs)
    .map(([key, value]) => `${key}=${value}\n`)
    .join('');
  writeFileSync(join(dir, name), text, { mode: 0o600 });
}
console.log(`wrote ${Object.keys(files).join(', ')} to ${dir}`);
