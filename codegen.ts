/**
 * `npm run codegen`: typed operations of `@taskgraph/client` from the API schema of the committed
 * supergraph (`schema/supergraph.graphql`, written by `npm run compose`). Output is committed under
 * `client/src/__generated__/`; CI re-runs this and fails on any diff.
 */
import { clientCodegenConfig } from './client/codegen/config.ts';

export default clientCodegenConfig({
  supergraphPath: 'schema/supergraph.graphql',
  documents: 'client/src/operations/**/*.graphql',
  outDir: 'client/src/__generated__/',
  emitSchema: true,
});
