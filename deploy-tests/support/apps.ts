import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ALL_SERVICES } from '@taskgraph/runtime';

/** The repository root (this file is deploy-tests/support/apps.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const repoPath = (...parts: string[]): string => join(REPO_ROOT, ...parts);

/** One deployable app: a service of the registry plus how Kubernetes runs it. */
export interface AppSpec {
  /** Dapr app id, Kubernetes Deployment/Service name. */
  id: string;
  /** npm workspace path (the Dockerfile's SERVICE, dapr.yaml's appDirPath). */
  workspace: string;
  port: number;
  /** Reads DATABASE_URL (the gateway has no database). */
  database: boolean;
  /** Scaled by a HorizontalPodAutoscaler. */
  autoscaled: boolean;
}

/** Apps scaled by an HPA (a deployment choice, not a property of the service). */
const AUTOSCALED: ReadonlySet<string> = new Set(['gateway', 'tasks']);

/** The apps, from the service registry (`packages/runtime/src/services.ts`, CONVENTIONS §16). */
export const APPS: readonly AppSpec[] = ALL_SERVICES.map((s) => ({
  id: s.appId,
  workspace: s.workspace,
  port: s.port,
  database: 'schema' in s,
  autoscaled: AUTOSCALED.has(s.appId),
}));

export const APP_IDS: readonly string[] = APPS.map((a) => a.id);
export const appById = (id: string): AppSpec => {
  const app = APPS.find((a) => a.id === id);
  if (!app) throw new Error(`unknown app ${id}`);
  return app;
};

/** A registry port spelled as a number in source code outside the registry. */
export interface PortLiteral {
  port: number;
  /** Where, as `path:line`. */
  at: string;
}

/** The registry itself: the one file allowed to spell the ports. */
export const REGISTRY_FILE = 'packages/runtime/src/services.ts';

/**
 * Registry ports written as literals in the workspaces' production sources (tests, fixtures and
 * generated code excluded): each one is a second copy of the registry that can drift from it.
 */
export function registryPortsInCode(allowedFile: string | null = REGISTRY_FILE): PortLiteral[] {
  const ports = new Set(APPS.map((a) => a.port));
  const literal = /(?<![\w.])(\d{4,5})(?![\w.])/g;
  const found: PortLiteral[] = [];
  const roots = ['packages', 'subgraphs'].flatMap((dir) => readdirSync(repoPath(dir)).map((name) => join(dir, name, 'src')));
  for (const root of [...roots, 'gateway/src', 'client/src', 'client/web/src', 'bench/src']) {
    for (const file of sourceFiles(repoPath(root))) {
      const path = relative(REPO_ROOT, file);
      if (path === allowedFile) continue;
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, index) => {
          for (const [, digits] of line.matchAll(literal)) {
            if (ports.has(Number(digits))) found.push({ port: Number(digits), at: `${path}:${index + 1}` });
          }
        });
    }
  }
  return found;
}

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const files: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) {
      if (entry !== 'fixtures' && entry !== '__generated__') files.push(...sourceFiles(path));
    } else if (entry.endsWith('.ts') && !/\.(test|int\.test|e2e)\.ts$/.test(entry)) {
      files.push(path);
    }
  }
  return files;
}
