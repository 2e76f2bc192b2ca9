import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CompositionError, composeSupergraph, readSubgraphDefinitions, renderSupergraphFile } from './compose.js';
import { DEFAULT_SUPERGRAPH_PATH, repoRoot } from './config.js';
import { EXTRAS_SDL, NOTES_SDL } from './fixtures/subgraphs.js';

const notes = { name: 'notes', url: 'http://127.0.0.1:4101/graphql', sdl: NOTES_SDL };
const extras = { name: 'extras', url: 'http://127.0.0.1:4102/graphql', sdl: EXTRAS_SDL };

describe('composeSupergraph', () => {
  it('is deterministic: same output on re-run and for any input order', () => {
    const first = composeSupergraph([notes, extras]);
    expect(composeSupergraph([notes, extras])).toBe(first);
    expect(composeSupergraph([extras, notes])).toBe(first);
    expect(first).toContain('NOTES @join__graph(name: "notes", url: "http://127.0.0.1:4101/graphql")');
  });

  it('fails with every composition error, coded, one per line', () => {
    const clash = { name: 'clash', url: 'http://127.0.0.1:4103/graphql', sdl: NOTES_SDL.replace('me: String!', 'me: Int!') };
    expect(() => composeSupergraph([notes, clash])).toThrow(CompositionError);
    expect(() => composeSupergraph([notes, clash])).toThrow(/Supergraph composition failed:\n {2}\[[A-Z_]+\] .*"Query\.me"/);
  });

  it('names the subgraph whose SDL does not parse', () => {
    expect(() => composeSupergraph([notes, { ...extras, sdl: 'type Note {' }])).toThrow(/\[extras\] Syntax Error/);
  });

  it('refuses to compose nothing', () => {
    expect(() => composeSupergraph([])).toThrow(/no subgraphs/);
  });
});

describe('schema/supergraph.graphql', () => {
  it('matches a fresh composition of subgraphs/*/src/schema.graphql (run `npm run compose`)', () => {
    const committed = readFileSync(join(repoRoot(), DEFAULT_SUPERGRAPH_PATH), 'utf8');
    expect(committed).toBe(renderSupergraphFile(composeSupergraph(readSubgraphDefinitions())));
  });
});
