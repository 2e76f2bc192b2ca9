import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { REPO_ROOT } from './apps.js';

/** A workspace of the monorepo (or a test root that is not one: `e2e`, `deploy-tests`). */
export interface Workspace {
  /** Package name (`@taskgraph/…`), or the directory for test roots without a package. */
  name: string;
  /** Directory relative to the repository root. */
  dir: string;
}

/** One import of another workspace, found in a source file. */
export interface WorkspaceImport {
  from: string;
  to: string;
  /** `path:line` of the import. */
  at: string;
  /** The importing file is a test, fixture or test helper (not shipped). */
  test: boolean;
}

/** Workspaces from the root `package.json` (`packages/*` style globs expanded), plus the test roots. */
export function readWorkspaces(root = REPO_ROOT): Workspace[] {
  const patterns: string[] = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).workspaces;
  const dirs = patterns.flatMap((pattern) =>
    pattern.endsWith('/*')
      ? readdirSync(join(root, pattern.slice(0, -2)))
          .map((name) => `${pattern.slice(0, -2)}/${name}`)
          .filter((dir) => existsSync(join(root, dir, 'package.json')))
      : [pattern],
  );
  const workspaces = dirs.map((dir) => ({ name: JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')).name as string, dir }));
  return [...workspaces, { name: 'e2e', dir: 'e2e' }, { name: 'deploy-tests', dir: 'deploy-tests' }];
}

/** Test code: test files, fixtures and test-only helpers (never part of a build's output). */
export const isTestFile = (path: string): boolean =>
  /\.(test|int\.test|e2e|soak|fixture)\.ts$/.test(path) ||
  /(^|\/)(fixtures|test-fixtures)\//.test(path) ||
  /^(e2e|deploy-tests)\//.test(path);

const IMPORT = /(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)'(@taskgraph\/[^'/]+)(?:\/[^']*)?'/g;

/** Every import of one workspace by another, read from the sources (`.ts`, `.tsx`, `.mjs`). */
export function readImports(workspaces: readonly Workspace[], root = REPO_ROOT): WorkspaceImport[] {
  const byName = new Map(workspaces.map((w) => [w.name, w]));
  const found: WorkspaceImport[] = [];
  for (const workspace of workspaces) {
    for (const file of sourceFiles(join(root, workspace.dir), workspaces, workspace, root)) {
      const path = relative(root, file);
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, index) => {
          for (const [, specifier] of line.matchAll(IMPORT)) {
            const target = byName.get(specifier!);
            if (target && target !== workspace)
              found.push({ from: workspace.name, to: target.name, at: `${path}:${index + 1}`, test: isTestFile(path) });
          }
        });
    }
  }
  return found;
}

/** Source files of `workspace`, skipping build output, dependencies and nested workspaces. */
function sourceFiles(dir: string, workspaces: readonly Workspace[], workspace: Workspace, root: string): string[] {
  const nested = new Set(workspaces.filter((w) => w !== workspace).map((w) => resolve(root, w.dir)));
  const walk = (current: string): string[] =>
    readdirSync(current).flatMap((entry) => {
      const path = join(current, entry);
      if (statSync(path).isDirectory()) {
        if (['node_modules', 'dist', '.data', '.turbo'].includes(entry) || nested.has(resolve(path))) return [];
        return walk(path);
      }
      return /\.(ts|tsx|mjs)$/.test(entry) && !entry.endsWith('.d.ts') ? [path] : [];
    });
  return existsSync(dir) ? walk(dir) : [];
}

/** The cycles of a directed graph given as edges (each cycle once, as its node list). */
export function findCycles(edges: readonly { from: string; to: string }[]): string[][] {
  const next = new Map<string, Set<string>>();
  for (const { from, to } of edges) {
    if (!next.has(from)) next.set(from, new Set());
    next.get(from)!.add(to);
  }
  const cycles = new Map<string, string[]>();
  const visit = (node: string, path: string[]) => {
    const at = path.indexOf(node);
    if (at >= 0) {
      const cycle = path.slice(at);
      const key = [...cycle].sort().join('>');
      if (!cycles.has(key)) cycles.set(key, [...cycle, node]);
      return;
    }
    for (const to of next.get(node) ?? []) visit(to, [...path, node]);
  };
  for (const node of next.keys()) visit(node, []);
  return [...cycles.values()];
}
