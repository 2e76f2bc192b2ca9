/** `npm run compose`: composes every subgraph SDL into the committed `schema/supergraph.graphql`. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { composeSupergraph, readSubgraphDefinitions, renderSupergraphFile } from './compose.js';
import { DEFAULT_SUPERGRAPH_PATH, repoRoot } from './config.js';

try {
  const root = repoRoot();
  const subgraphs = readSubgraphDefinitions();
  const target = join(root, DEFAULT_SUPERGRAPH_PATH);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, renderSupergraphFile(composeSupergraph(subgraphs)));
  console.log(`composed ${subgraphs.map((s) => s.name).join(', ')} → ${relative(root, target)}`);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
