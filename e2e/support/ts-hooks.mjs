// Node module hooks (module.register) that run the repository's TypeScript sources in a plain
// `node` child process, the way Jest runs them (same @swc/core transform, same module mapping as
// jest.config.js). Used by the kill -9 tests: a service in its own process, no build step, no
// stale `dist/`.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { transformSync } from '@swc/core';

const root = resolvePath(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Workspace packages → their TypeScript entry (jest.config.js `moduleNameMapper`). */
function mapped(specifier) {
  const fixed = {
    '@taskgraph/runtime': 'packages/runtime/src/index.ts',
    '@taskgraph/events': 'packages/events/src/index.ts',
    '@taskgraph/service-kit': 'packages/service-kit/src/index.ts',
    '@taskgraph/test-kit': 'packages/test-kit/src/index.ts',
    '@taskgraph/testing': 'packages/testing/src/index.ts',
    '@taskgraph/gateway': 'gateway/src/app.ts',
  }[specifier];
  if (fixed) return resolvePath(root, fixed);
  const subgraph = /^@taskgraph\/subgraph-([a-z-]+)$/.exec(specifier);
  if (subgraph) return resolvePath(root, 'subgraphs', subgraph[1], 'src', 'app.ts');
  return undefined;
}

export async function resolve(specifier, context, next) {
  const target = mapped(specifier);
  if (target) return { url: pathToFileURL(target).href, shortCircuit: true };
  // NodeNext sources import `./x.js` for `./x.ts`.
  if ((specifier.startsWith('./') || specifier.startsWith('../')) && specifier.endsWith('.js') && context.parentURL?.endsWith('.ts')) {
    const candidate = fileURLToPath(new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL));
    if (existsSync(candidate)) return { url: pathToFileURL(candidate).href, shortCircuit: true };
  }
  return next(specifier, context);
}

const swcOptions = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    target: 'es2022',
    transform: { decoratorMetadata: false },
  },
  module: { type: 'es6' },
  sourceMaps: 'inline',
};

export async function load(url, context, next) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return next(url, context);
  const filename = fileURLToPath(url);
  const { code } = transformSync(readFileSync(filename, 'utf8'), { ...swcOptions, filename });
  return { format: 'module', source: code, shortCircuit: true };
}
