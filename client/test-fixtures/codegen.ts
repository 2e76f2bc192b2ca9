/**
 * Codegen for the type-safety fixtures (client/src/type-safety.test.ts): the same configuration as
 * `npm run codegen` (client/codegen/config.ts), on `test-fixtures/$FIXTURE/*.graphql`, written to
 * `test-fixtures/.out/$FIXTURE/` (gitignored).
 */
import { clientCodegenConfig } from '../codegen/config.ts';

const fixture = process.env.FIXTURE;
if (!fixture || !/^[a-z-]+$/.test(fixture)) throw new Error('FIXTURE=<fixture directory> is required');

export default clientCodegenConfig({
  supergraphPath: 'schema/supergraph.graphql',
  documents: `client/test-fixtures/${fixture}/*.graphql`,
  outDir: `client/test-fixtures/.out/${fixture}/`,
});
