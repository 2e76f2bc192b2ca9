import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError } from '@taskgraph/runtime';
import { loadTrustedDocumentsManifest, resolveDocument, type TrustedDocuments } from './trusted-documents.js';

const TEXT = 'query Me { me }';
const HASH = createHash('sha256').update(TEXT).digest('hex');
const OTHER = '{ notes { id } }';
const manifest = new Map([[HASH, TEXT]]);
const ext = (sha256Hash: string) => ({ persistedQuery: { version: 1, sha256Hash } });
const codeOf = (value: string | AppError) => (value instanceof AppError ? value.code : value);

function manifestFile(content: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), 'trusted-')), 'manifest.json');
  writeFileSync(path, JSON.stringify(content));
  return path;
}

describe('loadTrustedDocumentsManifest', () => {
  it('reads hash → text, with or without the sha256: prefix', () => {
    expect(loadTrustedDocumentsManifest(manifestFile({ [HASH]: TEXT }))).toEqual(manifest);
    expect(loadTrustedDocumentsManifest(manifestFile({ [`sha256:${HASH}`]: TEXT }))).toEqual(manifest);
  });

  it('refuses an entry whose hash is not the sha256 of its text (no operation smuggled under another hash)', () => {
    expect(() => loadTrustedDocumentsManifest(manifestFile({ [HASH]: OTHER }))).toThrow(/is not sha256\(document\)/);
    expect(() => loadTrustedDocumentsManifest(manifestFile(['x']))).toThrow(/expected an object/);
  });
});

describe('resolveDocument', () => {
  const enforce: TrustedDocuments = { manifest, enforce: true };
  const allow: TrustedDocuments = { manifest, enforce: false };

  it('resolves a registered hash to its text in both modes (graphql-ws sends query "")', () => {
    for (const trusted of [enforce, allow]) {
      expect(resolveDocument(trusted, { extensions: ext(HASH) })).toBe(TEXT);
      expect(resolveDocument(trusted, { query: '', extensions: ext(HASH) })).toBe(TEXT);
    }
  });

  it('enforce: refuses unknown hashes, unregistered text and registrations; accepts the registered text itself', () => {
    expect(codeOf(resolveDocument(enforce, { extensions: ext('f'.repeat(64)) }))).toBe('PERSISTED_QUERY_NOT_FOUND');
    expect(codeOf(resolveDocument(enforce, { query: OTHER }))).toBe('PERSISTED_QUERY_NOT_IN_LIST');
    expect(codeOf(resolveDocument(enforce, { query: OTHER, extensions: ext('f'.repeat(64)) }))).toBe('PERSISTED_QUERY_NOT_IN_LIST');
    expect(resolveDocument(enforce, { query: TEXT })).toBe(TEXT);
    expect(codeOf(resolveDocument(enforce, {}))).toBe('BAD_REQUEST');
  });

  it('allow (and no manifest): text runs, unknown hashes without text are not found', () => {
    expect(resolveDocument(allow, { query: OTHER })).toBe(OTHER);
    expect(resolveDocument(undefined, { query: OTHER })).toBe(OTHER);
    expect(resolveDocument(allow, { query: OTHER, extensions: ext('f'.repeat(64)) })).toBe(OTHER);
    expect(codeOf(resolveDocument(allow, { extensions: ext('f'.repeat(64)) }))).toBe('PERSISTED_QUERY_NOT_FOUND');
    expect(codeOf(resolveDocument(undefined, { extensions: ext(HASH) }))).toBe('PERSISTED_QUERY_NOT_FOUND');
  });
});
