import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is deploy-tests/support/apps.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const repoPath = (...parts: string[]): string => join(REPO_ROOT, ...parts);

/** One deployable app (docs/CONVENTIONS.md "Apps/ports"). */
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

/**
 * The port table, written once. `portsDeclaredInCode` cross-checks it against the defaults the services
 * declare, so a port changed in code but not in deployment files (or the reverse) fails the tests.
 */
export const APPS: readonly AppSpec[] = [
  { id: 'gateway', workspace: 'gateway', port: 4000, database: false, autoscaled: true },
  { id: 'tasks', workspace: 'subgraphs/tasks', port: 4001, database: true, autoscaled: true },
  { id: 'audit', workspace: 'subgraphs/audit', port: 4002, database: true, autoscaled: false },
  { id: 'notifications', workspace: 'subgraphs/notifications', port: 4003, database: true, autoscaled: false },
  { id: 'sync', workspace: 'subgraphs/sync', port: 4004, database: true, autoscaled: false },
];

export const APP_IDS: readonly string[] = APPS.map((a) => a.id);
export const appById = (id: string): AppSpec => {
  const app = APPS.find((a) => a.id === id);
  if (!app) throw new Error(`unknown app ${id}`);
  return app;
};

/** A default port found in a service's source. */
export interface PortDeclaration {
  app: string;
  port: number;
  /** Where, as `path:line`. */
  at: string;
}

/**
 * Default ports declared in the apps' sources (tests excluded): `const DEFAULT_PORT = 4001` (also
 * SERVICE_PORT, <APP>_PORT, DEFAULT_<APP>_PORT), `loadServiceConfig(4001)`, `portSchema(4001)`, and the
 * gateway's `SUBGRAPH_PORTS = { tasks: 4001, ... }`
 * (which names other apps). Found by reading the source rather than importing it: importing an app
 * module opens databases and servers. Apps not written yet simply declare nothing.
 */
export function portsDeclaredInCode(): PortDeclaration[] {
  const found: PortDeclaration[] = [];
  for (const app of APPS) {
    const id = app.id.toUpperCase();
    const names = ['DEFAULT_PORT', 'SERVICE_PORT', `${id}_PORT`, `DEFAULT_${id}_PORT`, `${id}_DEFAULT_PORT`].join('|');
    const constant = new RegExp(`\\bconst\\s+(?:${names})\\s*(?::\\s*\\w+\\s*)?=\\s*(\\d{2,5})\\b`);
    const src = repoPath(app.workspace, 'src');
    for (const file of sourceFiles(src)) {
      const lines = readFileSync(file, 'utf8').split('\n');
      lines.forEach((line, index) => {
        const at = `${relative(REPO_ROOT, file)}:${index + 1}`;
        const single = constant.exec(line) ?? /\b(?:loadServiceConfig|portSchema)\(\s*(\d{2,5})\s*[,)]/.exec(line);
        if (single) found.push({ app: app.id, port: Number(single[1]), at });
        const map = /\bSUBGRAPH_PORTS\s*=\s*\{([^}]*)\}/.exec(line);
        if (map) {
          for (const [, name, port] of map[1]!.matchAll(/(\w+)\s*:\s*(\d{2,5})/g)) found.push({ app: name!, port: Number(port), at });
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
