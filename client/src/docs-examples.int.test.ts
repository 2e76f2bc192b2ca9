/**
 * docs/CLIENT.md shows the Apollo Client and urql set-ups as written in `client/examples/`; this test
 * proves the doc carries those files verbatim and runs the urql one against the whole system
 * (the Apollo one runs in `apollo/apollo-cache.int.test.ts`).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RunningSystem, startSystem } from '@taskgraph/testing';
import WebSocket from 'ws';
import { createUrqlClient } from '../examples/urql-client.js';
import { CreateTaskDocument, SyncRetentionDocument, TasksDocument, TaskUpdatesDocument } from './index.js';

const CLIENT_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
const doc = readFileSync(join(CLIENT_DIR, '..', 'docs', 'CLIENT.md'), 'utf8');

it.each(['apollo-client.ts', 'urql-client.ts'])('docs/CLIENT.md shows client/examples/%s verbatim', (file) => {
  const source = readFileSync(join(CLIENT_DIR, 'examples', file), 'utf8');
  expect(doc).toContain(`\`\`\`ts\n${source}\`\`\``);
});

describe('the urql set-up from docs/CLIENT.md', () => {
  let system: RunningSystem;
  beforeAll(async () => {
    system = await startSystem();
  });
  afterAll(async () => {
    await system?.close();
  });

  it('queries, mutates and receives taskUpdates', async () => {
    const urql = createUrqlClient({ url: system.gatewayUrl, token: await system.tokenFor('urql-user'), webSocketImpl: WebSocket });
    const position = await urql.query(SyncRetentionDocument, {}).toPromise();
    expect(position.error).toBeUndefined();
    const received: string[] = [];
    const live = urql
      .subscription(TaskUpdatesDocument, { after: position.data?.syncRetention.latestCursor ?? null })
      .subscribe((result) => {
        if (result.data) received.push(`${result.data.taskUpdates.op}:${result.data.taskUpdates.task?.title}`);
      });
    try {
      const created = await urql.mutation(CreateTaskDocument, { input: { title: 'from urql' } }).toPromise();
      expect(created.error).toBeUndefined();
      const list = await urql.query(TasksDocument, { first: 5 }, { requestPolicy: 'network-only' }).toPromise();
      expect(list.data?.tasks.edges.map((edge) => edge.node.title)).toEqual(['from urql']);
      const deadline = Date.now() + 10_000;
      while (!received.includes('CREATED:from urql') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(received).toEqual(['CREATED:from urql']);
    } finally {
      live.unsubscribe();
    }
  });
});
