#!/usr/bin/env node
/**
 * `npm run build:web -w @taskgraph/client`: bundles the dev web page (`web/src/main.ts` plus
 * `@taskgraph/client` from source) with esbuild into `web/dist/`, which the gateway serves at
 * `/app/` outside production. No dev server: rebuild and reload.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const web = dirname(fileURLToPath(import.meta.url));
const outdir = process.env.WEB_OUT_DIR ?? join(web, 'dist');
const started = performance.now();
mkdirSync(outdir, { recursive: true });
await build({
  entryPoints: [join(web, 'src', 'main.ts')],
  outfile: join(outdir, 'app.js'),
  bundle: true,
  format: 'esm',
  target: 'es2022',
  platform: 'browser',
  minify: true,
  sourcemap: 'linked',
  legalComments: 'none',
  // The client from its sources, so the page needs no `tsc -b` first.
  alias: { '@taskgraph/client': join(web, '..', 'src', 'index.ts') },
  logLevel: 'warning',
});
for (const file of ['index.html', 'app.css', 'favicon.svg']) copyFileSync(join(web, file), join(outdir, file));
console.log(`web: built ${outdir} in ${Math.round(performance.now() - started)} ms`);
