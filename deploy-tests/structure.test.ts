/**
 * The workspace import graph (docs/ARCHITECTURE.md §2), read from the sources: no cycles, and every
 * import points down the layers — shared packages never import services, services never import each
 * other, the gateway or the tooling, and nothing shipped imports test or benchmark code.
 */
import { existsSync, readFileSync } from 'node:fs';
import { repoPath } from './support/apps.js';
import { findCycles, readImports, readWorkspaces, type WorkspaceImport } from './support/import-graph.js';

/** Layer of each workspace: production code may import only strictly lower layers. */
const LAYERS: [RegExp, number][] = [
  [/^@taskgraph\/runtime$/, 0],
  [/^@taskgraph\/events$/, 1],
  [/^@taskgraph\/(service-kit|test-kit)$/, 2],
  [/^@taskgraph\/(subgraph-.+|gateway|client)$/, 3],
  [/^@taskgraph\/launcher$/, 4],
  [/^@taskgraph\/testing$/, 5],
  [/^(@taskgraph\/bench|e2e|deploy-tests)$/, 6],
];
/** Test tooling: production code never imports it. */
const TOOLING = new Set(['@taskgraph/test-kit', '@taskgraph/testing', '@taskgraph/bench', 'e2e', 'deploy-tests']);

const layerOf = (name: string): number => {
  const layer = LAYERS.find(([pattern]) => pattern.test(name))?.[1];
  if (layer === undefined) throw new Error(`workspace ${name} has no layer: add it to LAYERS (and ARCHITECTURE §2)`);
  return layer;
};

const workspaces = readWorkspaces();
const imports = readImports(workspaces);
const production = imports.filter((i) => !i.test);
const describeImport = (i: WorkspaceImport) => `${i.at}: ${i.from} → ${i.to}`;

/** Imports that run back up (or sideways across) the layers. */
const upward = (list: readonly WorkspaceImport[]) => list.filter((i) => layerOf(i.to) >= layerOf(i.from));

describe('workspace structure', () => {
  it('reads every workspace and a non-trivial import graph', () => {
    expect(workspaces.map((w) => w.name)).toEqual(
      expect.arrayContaining([
        '@taskgraph/runtime',
        '@taskgraph/events',
        '@taskgraph/service-kit',
        '@taskgraph/gateway',
        '@taskgraph/testing',
      ]),
    );
    for (const w of workspaces) layerOf(w.name);
    // The subgraphs start through the service kit: if the scan missed imports this would be empty.
    expect(production.filter((i) => i.to === '@taskgraph/service-kit').length).toBeGreaterThanOrEqual(4);
  });

  it('has no cycle in what production code imports', () => {
    expect(findCycles(production)).toEqual([]);
  });

  it('has no production import that runs back up the layers', () => {
    expect(upward(production).map(describeImport)).toEqual([]);
  });

  it('ships no import of test or benchmark code', () => {
    const intoTooling = production.filter((i) => TOOLING.has(i.to) && !TOOLING.has(i.from));
    expect(intoTooling.map(describeImport)).toEqual([]);
  });

  it('keeps everything under subgraphs/ (tests included) off testing and bench: their tests use the test-kit below them', () => {
    const offending = imports.filter((i) => i.at.startsWith('subgraphs/') && ['@taskgraph/testing', '@taskgraph/bench'].includes(i.to));
    expect(offending.map(describeImport)).toEqual([]);
    expect(imports.some((i) => i.at.startsWith('subgraphs/') && i.to === '@taskgraph/test-kit')).toBe(true);
  });

  it('gives every workspace the build and lint scripts Turborepo runs (turbo.json)', () => {
    const missing = workspaces
      .filter((w) => existsSync(repoPath(w.dir, 'package.json')))
      .flatMap((w) => {
        const scripts: Record<string, string> = JSON.parse(readFileSync(repoPath(w.dir, 'package.json'), 'utf8')).scripts ?? {};
        return ['build', 'lint'].filter((name) => !scripts[name]).map((name) => `${w.dir}: no "${name}" script`);
      });
    expect(missing).toEqual([]);
  });

  it('detects a cycle and an upward import (the checks can fail)', () => {
    const fake = (from: string, to: string): WorkspaceImport => ({ from, to, at: 'x.ts:1', test: false });
    expect(findCycles([fake('@taskgraph/events', '@taskgraph/runtime'), fake('@taskgraph/runtime', '@taskgraph/events')])).toHaveLength(1);
    expect(upward([fake('@taskgraph/runtime', '@taskgraph/subgraph-tasks')])).toHaveLength(1);
    expect(upward([fake('@taskgraph/subgraph-tasks', '@taskgraph/subgraph-audit')])).toHaveLength(1);
  });
});
