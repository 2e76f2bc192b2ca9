/**
 * The one codegen configuration of the client (root `codegen.ts` and the type-error fixtures both
 * build theirs here, so the fixtures test exactly what `npm run codegen` does).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Supergraph } from '@apollo/federation-internals';
import type { CodegenConfig } from '@graphql-codegen/cli';
import { lexicographicSortSchema, printSchema } from 'graphql';

/**
 * The client-facing API schema of a composed supergraph: the `join__*` / `link__*` federation
 * machinery and `@inaccessible` elements removed, as the gateway serves it. Sorted, so the output
 * depends only on the schema, not on the order subgraphs were composed in.
 */
export function apiSchemaSdl(supergraphPath: string): string {
  const supergraph = Supergraph.build(readFileSync(supergraphPath, 'utf8'));
  return printSchema(lexicographicSortSchema(supergraph.apiSchema().toGraphQLJSSchema()));
}

/** Scalars as they travel in JSON (DateTime is an ISO-8601 string, Cursor is opaque). */
export const SCALARS = { DateTime: 'string', Cursor: 'string', JSON: 'unknown' } as const;

export interface ClientCodegenOptions {
  /** `schema/supergraph.graphql`. */
  supergraphPath: string;
  /** Glob(s) of the operation documents. */
  documents: string | string[];
  /** Directory the client preset writes to (ends with `/`). */
  outDir: string;
  /** Also write the API schema as `schema.graphql` into `outDir` (for review and drift checks). */
  emitSchema?: boolean;
}

/** `@graphql-codegen/cli` config: client preset with persisted documents, string-union enums, no fragment masking. */
export function clientCodegenConfig(options: ClientCodegenOptions): CodegenConfig {
  const schema = apiSchemaSdl(options.supergraphPath);
  const generates: CodegenConfig['generates'] = {
    [options.outDir]: {
      preset: 'client',
      presetConfig: {
        fragmentMasking: false,
        // Trusted documents (docs/CLIENT.md): every document carries `__meta__.hash` (sha256 of its
        // normalized text) and `persisted-documents.json` maps hash → text for the gateway's manifest.
        // Plain hex, as the persisted-query extension's `sha256Hash` carries it (the preset's 'sha256'
        // would prefix `sha256:`).
        persistedDocuments: { mode: 'embedHashInDocument', hashAlgorithm: (text) => createHash('sha256').update(text).digest('hex') },
      },
      config: {
        scalars: SCALARS,
        enumsAsTypes: true,
        useTypeImports: true,
        strictScalars: true,
        dedupeFragments: true,
        // NodeNext: relative imports need their `.js` suffix.
        emitLegacyCommonJSImports: false,
      },
    },
  };
  if (options.emitSchema) generates[`${options.outDir}schema.graphql`] = { plugins: ['schema-ast'] };
  return {
    schema,
    documents: options.documents,
    ignoreNoDocuments: false,
    errorsOnly: true,
    generates,
  };
}
