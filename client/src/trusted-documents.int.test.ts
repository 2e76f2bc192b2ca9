/**
 * Trusted documents against the whole system, the gateway in enforce mode with the committed
 * manifest (`npm run codegen` → `__generated__/persisted-documents.json`): the typed client works
 * sending hashes only (HTTP and graphql-ws), while unregistered operations — as text, as an
 * unknown hash, or as an APQ registration attempt — are refused with a stable code and change nothing.
 */
import { readFileSync } from 'node:fs';
import { loadTrustedDocumentsManifest } from '@taskgraph/gateway';
import { type RunningSystem, startSystem } from '@taskgraph/testing';
import { type DocumentNode, print } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import * as generated from './__generated__/graphql.js';
import { persistedHash } from './documents.js';
import {
  CreateTaskDocument,
  createTaskgraphClient,
  SyncRetentionDocument,
  type TaskgraphClient,
  type TaskgraphClientOptions,
  TaskgraphError,
  TasksDocument,
  TaskUpdatesDocument,
} from './index.js';

const MANIFEST = new URL('./__generated__/persisted-documents.json', import.meta.url);
let system: RunningSystem;
const clients: TaskgraphClient[] = [];
const sockets: Client[] = [];

beforeAll(async () => {
  const manifest = loadTrustedDocumentsManifest(MANIFEST.pathname);
  system = await startSystem({ subgraphs: ['tasks', 'sync'], gateway: { trustedDocuments: { manifest, enforce: true } } });
});

afterAll(async () => {
  for (const client of clients) await client.dispose();
  for (const socket of sockets) await socket.dispose();
  await system?.close();
});

/** Every request body the client sends, as JSON. */
const sent: Record<string, unknown>[] = [];
async function clientFor(user: string, options: Partial<TaskgraphClientOptions> = {}): Promise<TaskgraphClient> {
  const client = createTaskgraphClient({
    url: system.gatewayUrl,
    token: await system.tokenFor(user),
    webSocketImpl: WebSocket,
    fetch: (input, init) => {
      sent.push(JSON.parse(String(init?.body)) as Record<string, unknown>);
      return fetch(input, init);
    },
    ...options,
  });
  clients.push(client);
  return client;
}

async function post(body: Record<string, unknown>, user = 'mallory') {
  const res = await fetch(system.gatewayUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${await system.tokenFor(user)}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] } };
}

const codeOf = (res: { body: { errors?: { extensions?: { code?: string } }[] } }) => res.body.errors?.[0]?.extensions?.code;
const hashOf = (document: DocumentNode) => persistedHash(document)!;

async function tasksOf(user: string): Promise<string[]> {
  const client = await clientFor(user);
  const { tasks } = await client.query(TasksDocument, { first: 50 });
  return tasks.edges.map((e) => e.node.title);
}

describe('the manifest', () => {
  it('registers every generated operation under the hash its document carries, and nothing else', () => {
    const manifest = loadTrustedDocumentsManifest(MANIFEST.pathname);
    const documents = Object.entries(generated).filter(([name]) => name.endsWith('Document')) as [string, DocumentNode][];
    expect(documents.length).toBeGreaterThan(10);
    const hashes = documents.map(([, document]) => hashOf(document));
    expect(new Set(hashes).size).toBe(documents.length);
    expect([...manifest.keys()].sort()).toEqual([...hashes].sort());
    // The JSON is exactly what the loader verified (hash = sha256(text)).
    expect(Object.keys(JSON.parse(readFileSync(MANIFEST, 'utf8')) as object)).toHaveLength(documents.length);
  });
});

describe('enforce mode', () => {
  it('runs the typed client by hash over HTTP: queries and mutations, no query text on the wire', async () => {
    sent.length = 0;
    const client = await clientFor('alice');
    const { createTask } = await client.mutate(CreateTaskDocument, { input: { title: 'trusted alice', tags: ['t'] } });
    expect(createTask.title).toBe('trusted alice');
    const { tasks } = await client.query(TasksDocument, { first: 10 });
    expect(tasks.edges.map((e) => e.node.title)).toContain('trusted alice');
    expect(sent.length).toBe(2);
    for (const body of sent) {
      expect(body.query).toBeUndefined();
      expect(body.extensions).toEqual({ persistedQuery: { version: 1, sha256Hash: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    }
  });

  it('runs typed subscriptions by hash over graphql-ws (query "" plus the extension)', async () => {
    const client = await clientFor('alice');
    const { syncRetention } = await client.query(SyncRetentionDocument);
    const seen: string[] = [];
    const sub = client.subscribe(TaskUpdatesDocument, {
      variables: { after: syncRetention.latestCursor },
      next: ({ taskUpdates }) => seen.push(taskUpdates.task?.title ?? ''),
    });
    await client.mutate(CreateTaskDocument, { input: { title: 'trusted live' } });
    for (let i = 0; i < 100 && !seen.includes('trusted live'); i++) await new Promise((r) => setTimeout(r, 50));
    sub.unsubscribe();
    expect(seen).toContain('trusted live');
  });

  it('refuses unregistered text over HTTP with 403 PERSISTED_QUERY_NOT_IN_LIST, and nothing runs', async () => {
    const mutation = 'mutation { createTask(input: { title: "smuggled" }) { id } }';
    const res = await post({ query: mutation });
    expect([res.status, codeOf(res), res.body.data ?? null]).toEqual([403, 'PERSISTED_QUERY_NOT_IN_LIST', null]);
    // Even a registered operation's text, printed differently from the manifest (whitespace), is not it.
    const reformatted = await post({ query: print(TasksDocument), variables: { first: 1 } });
    expect(codeOf(reformatted)).toBe('PERSISTED_QUERY_NOT_IN_LIST');
    // So is the typed client told to send text.
    const textClient = await clientFor('mallory', { persistedDocuments: false });
    await expect(textClient.query(TasksDocument, { first: 1 })).rejects.toMatchObject({ code: 'PERSISTED_QUERY_NOT_IN_LIST', status: 403 });
    expect(await tasksOf('mallory')).not.toContain('smuggled');
  });

  it('refuses an unknown hash (PERSISTED_QUERY_NOT_FOUND) and an APQ registration of new text (NOT_IN_LIST)', async () => {
    const unknown = 'a'.repeat(64);
    const notFound = await post({ extensions: { persistedQuery: { version: 1, sha256Hash: unknown } } });
    expect([codeOf(notFound), notFound.body.data ?? null]).toEqual(['PERSISTED_QUERY_NOT_FOUND', null]);
    const mutation = 'mutation { createTask(input: { title: "registered by mallory" }) { id } }';
    const { createHash } = await import('node:crypto');
    const sha256Hash = createHash('sha256').update(mutation).digest('hex');
    const register = await post({ query: mutation, extensions: { persistedQuery: { version: 1, sha256Hash } } });
    expect([register.status, codeOf(register)]).toEqual([403, 'PERSISTED_QUERY_NOT_IN_LIST']);
    // Not registered by the attempt: the hash alone is still unknown.
    expect(codeOf(await post({ extensions: { persistedQuery: { version: 1, sha256Hash } } }))).toBe('PERSISTED_QUERY_NOT_FOUND');
    expect(await tasksOf('mallory')).not.toContain('registered by mallory');
  });

  it('refuses unregistered operations over graphql-ws, as text or as an unknown hash', async () => {
    const socket = createClient({
      url: system.gatewayUrl.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${await system.tokenFor('mallory')}` },
      retryAttempts: 0,
      lazy: true,
    });
    sockets.push(socket);
    const outcome = (payload: { query: string; extensions?: Record<string, unknown> }) =>
      new Promise<unknown>((resolve) => {
        const results: unknown[] = [];
        socket.subscribe(payload, {
          next: (r) => results.push(r),
          error: (e) => resolve({ error: e }),
          complete: () => resolve({ results }),
        });
      });
    const codes = (o: unknown) => ((o as { error?: { extensions?: { code?: string } }[] }).error ?? []).map((e) => e.extensions?.code);
    expect(codes(await outcome({ query: 'subscription { taskUpdates { cursor taskId } }' }))).toEqual(['PERSISTED_QUERY_NOT_IN_LIST']);
    expect(codes(await outcome({ query: 'mutation { createTask(input: { title: "ws smuggled" }) { id } }' }))).toEqual([
      'PERSISTED_QUERY_NOT_IN_LIST',
    ]);
    expect(codes(await outcome({ query: '', extensions: { persistedQuery: { version: 1, sha256Hash: 'b'.repeat(64) } } }))).toEqual([
      'PERSISTED_QUERY_NOT_FOUND',
    ]);
    // A registered hash on the same socket runs (the refusals changed nothing else).
    const ok = (await outcome({
      query: '',
      extensions: { persistedQuery: { version: 1, sha256Hash: hashOf(SyncRetentionDocument) } },
    })) as {
      results: { data?: { syncRetention?: unknown } }[];
    };
    expect(ok.results[0]?.data?.syncRetention).toBeDefined();
    expect(await tasksOf('mallory')).not.toContain('ws smuggled');
  });

  it('falls back to the text once when the gateway does not know a hash (a client newer than its manifest)', async () => {
    sent.length = 0;
    const client = await clientFor('mallory');
    const newer = { ...SyncRetentionDocument, __meta__: { hash: 'c'.repeat(64) } } as unknown as typeof SyncRetentionDocument;
    // Enforce mode refuses the text too, so the fallback ends in PERSISTED_QUERY_NOT_IN_LIST (allow mode would run it).
    await expect(client.query(newer)).rejects.toMatchObject({ code: 'PERSISTED_QUERY_NOT_IN_LIST' });
    expect(sent.map((body) => [body.query === undefined ? 'hash' : 'text', body.extensions === undefined ? '' : 'ext'])).toEqual([
      ['hash', 'ext'],
      ['text', ''],
    ]);
  });

  it('surfaces the refusal as a TaskgraphError with its code', async () => {
    const textClient = await clientFor('mallory', { persistedDocuments: false });
    const error = await textClient.query(SyncRetentionDocument).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TaskgraphError);
    expect((error as TaskgraphError).code).toBe('PERSISTED_QUERY_NOT_IN_LIST');
  });
});
