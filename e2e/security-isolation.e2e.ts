/**
 * Security 5: adversarial isolation. User B (mallory) knows user A's (alice's) task ids, cursors
 * and notification ids and tries to read, change and follow them over HTTP and WebSocket through
 * the gateway, and by calling every subgraph directly (no internal token, forged, unsigned,
 * expired, B's own valid one with `_entities`). Every answer is searched for A's secret marker:
 * leaks must be 0, and A's data must be unchanged afterwards.
 */
import { randomBytes } from 'node:crypto';
import { DEV_INTERNAL_TOKEN_SECRET, INTERNAL_TOKEN_HEADER, signInternalToken } from '@taskgraph/runtime';
import { createCursorCodec } from '@taskgraph/subgraph-sync';
import { type RunningSystem, startSystem } from '@taskgraph/testing';
import { AttackLedger, collect, rawGraphqlWs, signJwt, unsignedJwt, wsClient, wsOnce } from './support/attack.js';
import { waitFor } from './support/cluster.js';
import { Figures } from './support/figures.js';

/** `user`'s own cursor for the start of the log (cursors are opaque and per user; the test knows the dev secret). */
const cursorAtStart = (user: string) => createCursorCodec(DEV_INTERNAL_TOKEN_SECRET).encode(user, 0n);

const figures = new Figures('security-isolation');
const nonce = randomBytes(6).toString('hex');
const SECRET = `A-SECRET-${nonce}`;
const ALICE = `alice-${nonce}`;
const MALLORY = `mallory-${nonce}`;
const ledger = new AttackLedger(SECRET);

let system: RunningSystem;
const victim = {
  taskIds: [] as string[],
  recurringId: '',
  taskCursor: '',
  auditCursor: '',
  notificationId: '',
  notificationCursor: '',
  syncCursor: '',
  versions: new Map<string, number>(),
};
const disposers: (() => unknown)[] = [];

type Json = Record<string, unknown>;
const gql = async (query: string, variables: Json = {}, as?: string) => system.graphql<Json>(query, variables, as);

async function aliceMutation<T = Json>(query: string, variables: Json = {}): Promise<T> {
  const res = await gql(query, variables, ALICE);
  expect(res.errors).toBeUndefined();
  return Object.values(res.data!)[0] as T;
}

async function aliceSnapshot(): Promise<Map<string, number>> {
  const res = await gql('{ tasks(first: 100) { edges { node { id version } } } }', {}, ALICE);
  return new Map((res.data!.tasks as { edges: { node: { id: string; version: number } }[] }).edges.map((e) => [e.node.id, e.node.version]));
}

beforeAll(async () => {
  system = await startSystem();
  const now = Date.now();
  for (let i = 0; i < 3; i++) {
    const task = await aliceMutation<{ id: string }>('mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }', {
      i: {
        title: `${SECRET} task ${i}`,
        notes: `${SECRET} notes`,
        tags: [SECRET],
        dueAt: new Date(now + 3_600_000).toISOString(),
        ...(i === 0 ? { reminders: [{ at: new Date(now + 1_500).toISOString() }] } : {}),
        ...(i === 1 ? { recurrence: 'FREQ=DAILY', timeZone: 'UTC' } : {}),
      },
    });
    victim.taskIds.push(task.id);
  }
  victim.recurringId = victim.taskIds[1]!;
  await aliceMutation('mutation($id: ID!) { updateTask(id: $id, input: { priority: HIGH }) { id } }', { id: victim.taskIds[2] });
  await aliceMutation('mutation($id: ID!) { completeTask(id: $id) { id } }', { id: victim.taskIds[2] });
  const tasks = await gql('{ tasks(first: 1) { pageInfo { endCursor } } }', {}, ALICE);
  victim.taskCursor = (tasks.data!.tasks as { pageInfo: { endCursor: string } }).pageInfo.endCursor;
  await waitFor(
    "alice's audit trail and reminder notification",
    async () => {
      const audit = await gql('{ auditLog(first: 1) { edges { node { taskId } } pageInfo { endCursor } } }', {}, ALICE);
      const inbox = await gql('{ notifications(first: 1) { edges { cursor node { id title } } } }', {}, ALICE);
      const auditCursor = (audit.data?.auditLog as { pageInfo: { endCursor: string | null } } | undefined)?.pageInfo.endCursor;
      const edge = (inbox.data?.notifications as { edges: { cursor: string; node: { id: string } }[] } | undefined)?.edges[0];
      if (!auditCursor || !edge) return false;
      victim.auditCursor = auditCursor;
      victim.notificationId = edge.node.id;
      victim.notificationCursor = edge.cursor;
      return true;
    },
    30_000,
  );
  const retention = await gql('{ syncRetention { latestCursor } }', {}, ALICE);
  victim.syncCursor = String((retention.data!.syncRetention as { latestCursor: string | null }).latestCursor ?? '0');
  victim.versions = await aliceSnapshot();
  // Mallory has data of her own, so "nothing" is not simply an empty system.
  await gql('mutation { createTask(input: { title: "mallory own" }) { id } }', {}, MALLORY);
}, 60_000);

afterAll(async () => {
  for (const dispose of disposers) await dispose();
  await system?.close();
  figures.set('attempts', ledger.attempts);
  figures.set('leaks', ledger.leaks.length);
  figures.report();
});

describe('through the gateway over HTTP', () => {
  it('detects a leak when there is one (control: alice reading her own data)', async () => {
    const control = new AttackLedger(SECRET);
    control.check('alice herself', await gql('query($id: ID!) { task(id: $id) { title } }', { id: victim.taskIds[0] }, ALICE));
    expect(control.leaks).toHaveLength(1);
  });

  it("gives mallory nothing of alice's tasks, audit trail or notifications", async () => {
    const [a1, a2, a3] = victim.taskIds;
    const reads: [string, string, Json][] = [
      [
        'task(id)',
        'query($id: ID!) { task(id: $id) { id title notes tags history { edges { node { action } } } reminders { n } } }',
        { id: a1 },
      ],
      ['tasks', '{ tasks(first: 100) { edges { node { id title notes } } } }', {}],
      [
        'tasks(after: alice cursor)',
        'query($c: Cursor) { tasks(first: 100, after: $c) { edges { node { id title } } } }',
        { c: victim.taskCursor },
      ],
      ['tasks(search)', 'query($s: String) { tasks(first: 100, filter: { search: $s }) { edges { node { id title } } } }', { s: nonce }],
      ['tasks(tags)', 'query($t: [String!]) { tasks(first: 100, filter: { tags: $t }) { edges { node { id title } } } }', { t: [SECRET] }],
      [
        'auditLog(taskId)',
        'query($id: ID) { auditLog(filter: { taskId: $id }, first: 100) { edges { node { taskId changes { field from to } } } } }',
        { id: a3 },
      ],
      ['auditLog', '{ auditLog(first: 100) { edges { node { taskId task { title } } } } }', {}],
      [
        'auditLog(after: alice cursor)',
        'query($c: Cursor) { auditLog(first: 100, after: $c) { edges { node { taskId } } } }',
        { c: victim.auditCursor },
      ],
      ['notifications', '{ notifications(first: 100) { edges { node { id title body task { title } } } } }', {}],
      [
        'notifications(after: alice cursor)',
        'query($c: Cursor) { notifications(first: 100, after: $c) { edges { node { title } } } }',
        { c: victim.notificationCursor },
      ],
      ['unreadNotificationCount', '{ unreadNotificationCount }', {}],
      [
        '_entities via the gateway',
        'query($r: [_Any!]!) { _entities(representations: $r) { ... on Task { title } } }',
        { r: [{ __typename: 'Task', id: a1 }] },
      ],
    ];
    for (const [what, query, variables] of reads) {
      const res = await gql(query, variables, MALLORY);
      ledger.check(`http ${what}`, res);
    }
    const own = await gql('query($id: ID!) { task(id: $id) { id } }', { id: a2 }, MALLORY);
    expect(own.data).toEqual({ task: null });
    const count = await gql('{ unreadNotificationCount }', {}, MALLORY);
    expect(count.data).toEqual({ unreadNotificationCount: 0 });
    expect(ledger.leaks).toEqual([]);
  });

  it("cannot update, complete, reopen, delete alice's tasks or mark her notifications read", async () => {
    const writes: [string, string, Json][] = [];
    for (const id of victim.taskIds) {
      writes.push(
        ['updateTask', 'mutation($id: ID!) { updateTask(id: $id, input: { title: "pwned" }) { id title } }', { id }],
        [
          'updateTask(expectedVersion)',
          'mutation($id: ID!) { updateTask(id: $id, input: { notes: "x" }, expectedVersion: 1) { id } }',
          { id },
        ],
        ['completeTask', 'mutation($id: ID!) { completeTask(id: $id) { id title } }', { id }],
        ['reopenTask', 'mutation($id: ID!) { reopenTask(id: $id) { id title } }', { id }],
        ['deleteTask', 'mutation($id: ID!) { deleteTask(id: $id) { id } }', { id }],
      );
    }
    writes.push([
      'markNotificationRead',
      'mutation($id: ID!) { markNotificationRead(id: $id) { id title } }',
      { id: victim.notificationId },
    ]);
    writes.push(['markAllNotificationsRead', 'mutation { markAllNotificationsRead }', {}]);
    for (const [what, mutation, variables] of writes) {
      const res = await gql(mutation, variables, MALLORY);
      ledger.check(`http ${what}`, res);
      if (what !== 'markAllNotificationsRead') expect(res.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
    expect(await aliceSnapshot()).toEqual(victim.versions);
    const inbox = await gql('{ unreadNotificationCount }', {}, ALICE);
    expect(inbox.data).toEqual({ unreadNotificationCount: 1 });
    expect(ledger.leaks).toEqual([]);
  });
});

describe('through the gateway over WebSocket', () => {
  it('runs queries and mutations as mallory only', async () => {
    const { client } = wsClient(system.gatewayUrl, { authorization: `Bearer ${await system.tokenFor(MALLORY)}` });
    disposers.push(() => client.dispose());
    const [a1] = victim.taskIds;
    const ops: [string, string, Json][] = [
      ['task(id)', 'query($id: ID!) { task(id: $id) { id title } }', { id: a1 }],
      ['tasks', '{ tasks(first: 100) { edges { node { title } } } }', {}],
      ['auditLog(taskId)', 'query($id: ID) { auditLog(filter: { taskId: $id }) { edges { node { taskId } } } }', { id: a1 }],
      ['updateTask', 'mutation($id: ID!) { updateTask(id: $id, input: { title: "pwned" }) { id title } }', { id: a1 }],
      ['deleteTask', 'mutation($id: ID!) { deleteTask(id: $id) { id } }', { id: a1 }],
    ];
    for (const [what, query, variables] of ops) ledger.check(`ws ${what}`, await wsOnce(client, query, variables));
    expect(await aliceSnapshot()).toEqual(victim.versions);
    expect(ledger.leaks).toEqual([]);
  });

  it("never delivers alice's updates or reminders to mallory's subscriptions (taskIds filter, alice's cursor)", async () => {
    const alice = wsClient(system.gatewayUrl, { authorization: `Bearer ${await system.tokenFor(ALICE)}` });
    const mallory = wsClient(system.gatewayUrl, { authorization: `Bearer ${await system.tokenFor(MALLORY)}` });
    disposers.push(
      () => alice.client.dispose(),
      () => mallory.client.dispose(),
    );
    const FEED =
      'subscription($f: TaskUpdateFilter, $after: Cursor) { taskUpdates(filter: $f, after: $after) { taskId op task { title } } }';
    const control = collect(alice.client, FEED, { f: { taskIds: victim.taskIds } });
    const spies = [
      collect(mallory.client, FEED, { f: { taskIds: victim.taskIds } }),
      collect(mallory.client, FEED, { f: { tags: [SECRET] } }),
      collect(mallory.client, FEED, { after: cursorAtStart(MALLORY) }),
      collect(mallory.client, FEED, { after: victim.syncCursor }),
      collect(mallory.client, FEED, {}),
      collect(mallory.client, 'subscription { notificationReceived { taskId title body task { title } } }'),
    ];
    ledger.attempts += spies.length;
    await new Promise((r) => setTimeout(r, 1_000));
    // Alice changes her tasks and gets a reminder: the control subscription sees it, the spies must not.
    await aliceMutation('mutation($id: ID!) { updateTask(id: $id, input: { title: "' + SECRET + ' renamed" }) { id } }', {
      id: victim.taskIds[0],
    });
    await aliceMutation('mutation($id: ID!, $at: DateTime!) { updateTask(id: $id, input: { reminders: [{ at: $at }] }) { id } }', {
      id: victim.taskIds[0],
      at: new Date(Date.now() + 1_000).toISOString(),
    });
    await waitFor('alice sees her own updates', () => control.results.length >= 2, 15_000);
    await new Promise((r) => setTimeout(r, 2_500));
    for (const spy of spies) {
      spy.dispose();
      // Mallory's own task was created before; only her own updates may appear (replay from cursor 0).
      ledger.check('ws subscription', spy.results);
      for (const result of spy.results) {
        const update = (result.data as { taskUpdates?: { taskId: string } } | undefined)?.taskUpdates;
        if (update) expect(victim.taskIds).not.toContain(update.taskId);
      }
    }
    control.dispose();
    victim.versions = await aliceSnapshot();
    expect(ledger.leaks).toEqual([]);
  });
});

describe('change-feed cursors through the gateway', () => {
  it("tell mallory nothing about alice's activity: her syncRetention is byte-identical while alice changes 10 tasks", async () => {
    const view = async (as: string) => (await gql('{ syncRetention { oldestCursor latestCursor } }', {}, as)).data!.syncRetention as Json;
    const before = await view(MALLORY);
    const aliceBefore = await view(ALICE);
    for (let i = 0; i < 10; i++) {
      await aliceMutation('mutation($id: ID!, $t: String!) { updateTask(id: $id, input: { title: $t }) { id } }', {
        id: victim.taskIds[0],
        t: `${SECRET} v${i}`,
      });
    }
    // Sync has stored alice's changes (her own latestCursor moved), so mallory's view could have moved too.
    await waitFor('sync stored alice’s changes', async () => (await view(ALICE)).latestCursor !== aliceBefore.latestCursor, 15_000);
    ledger.attempts++;
    expect(await view(MALLORY)).toEqual(before);
    // Opaque: fixed-length strings, and alice's cursor is no cursor of mallory's.
    expect(String(before.latestCursor)).toMatch(/^[A-Za-z0-9_-]{50}$/);
    expect(before.latestCursor).not.toBe(aliceBefore.latestCursor);
    victim.versions = await aliceSnapshot();
  });
});

describe('calling the subgraphs directly', () => {
  const entitiesQuery = (name: string) => {
    const fields: Record<string, string> = {
      tasks: 'id title notes tags',
      audit: 'id history { edges { node { taskId changes { field from to } } } }',
      notifications: 'id reminders { n fireAt }',
      sync: 'id',
    };
    return `query($r: [_Any!]!) { _entities(representations: $r) { ... on Task { ${fields[name] ?? 'id'} } } }`;
  };

  it('refuses calls without, or with a forged, unsigned or expired internal token, and the client JWT', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: ALICE, aud: 'taskgraph-subgraphs', iss: 'taskgraph-gateway', iat: now, exp: now + 60 };
    const tokens: [string, Record<string, string>][] = [
      ['none', {}],
      ['forged secret', { [INTERNAL_TOKEN_HEADER]: await signInternalToken(ALICE, 'f'.repeat(48)) }],
      ['alg none', { [INTERNAL_TOKEN_HEADER]: unsignedJwt(claims) }],
      ['expired', { [INTERNAL_TOKEN_HEADER]: await signJwt({ ...claims, iat: now - 600, exp: now - 300 }, DEV_INTERNAL_TOKEN_SECRET) }],
      ['wrong audience', { [INTERNAL_TOKEN_HEADER]: await signJwt({ ...claims, aud: 'taskgraph' }, DEV_INTERNAL_TOKEN_SECRET) }],
      ['HS512', { [INTERNAL_TOKEN_HEADER]: await signJwt(claims, DEV_INTERNAL_TOKEN_SECRET, 'HS512') }],
      ['client JWT as bearer', { authorization: `Bearer ${await system.tokenFor(ALICE)}` }],
      ['client JWT as internal token', { [INTERNAL_TOKEN_HEADER]: await system.tokenFor(ALICE) }],
    ];
    for (const [name, service] of Object.entries(system.services)) {
      for (const [what, headers] of tokens) {
        const res = await fetch(service.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ query: entitiesQuery(name), variables: { r: victim.taskIds.map((id) => ({ __typename: 'Task', id })) } }),
        });
        const body = await res.text();
        ledger.check(`direct ${name} ${what}`, body);
        expect([name, what, res.status]).toEqual([name, what, 401]);
      }
    }
    expect(ledger.leaks).toEqual([]);
  });

  it("resolves no entity of alice's for mallory's own valid internal token", async () => {
    const token = await signInternalToken(MALLORY, DEV_INTERNAL_TOKEN_SECRET);
    for (const [name, service] of Object.entries(system.services)) {
      if (name === 'sync') continue; // `Task @key(resolvable: false)`: sync resolves no Task entity
      const res = await fetch(service.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [INTERNAL_TOKEN_HEADER]: token },
        body: JSON.stringify({ query: entitiesQuery(name), variables: { r: victim.taskIds.map((id) => ({ __typename: 'Task', id })) } }),
      });
      const body = (await res.json()) as { data?: { _entities: (Json | null)[] } };
      ledger.check(`direct ${name} _entities as mallory`, body);
      for (const entity of body.data?._entities ?? []) {
        if (!entity) continue;
        // An entity may come back as an empty shell (no task of hers), never with alice's data.
        if (name === 'audit') expect(entity.history).toEqual({ edges: [] });
        if (name === 'notifications') expect(entity.reminders).toEqual([]);
        if (name === 'tasks') expect(entity).toBeNull();
      }
    }
    expect(ledger.leaks).toEqual([]);
  });

  it("refuses sync's graphql-ws without a valid internal token, and scopes a valid one to its user", async () => {
    const sync = system.services.sync;
    expect(sync).toBeDefined();
    const wsUrl = sync!.url.replace(/^http/, 'ws');
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: ALICE, aud: 'taskgraph-subgraphs', iss: 'taskgraph-gateway', iat: now, exp: now + 60 };
    const subscribe = { id: '1', type: 'subscribe', payload: { query: 'subscription { taskUpdates(after: "0") { taskId } }' } };
    const inits: [string, Json][] = [
      ['none', {}],
      ['forged', { [INTERNAL_TOKEN_HEADER]: await signInternalToken(ALICE, 'f'.repeat(48)) }],
      ['alg none', { [INTERNAL_TOKEN_HEADER]: unsignedJwt(claims) }],
      ['client JWT', { [INTERNAL_TOKEN_HEADER]: await system.tokenFor(ALICE), authorization: `Bearer ${await system.tokenFor(ALICE)}` }],
    ];
    for (const [what, payload] of inits) {
      const outcome = await rawGraphqlWs(wsUrl, [{ type: 'connection_init', payload }, subscribe]);
      ledger.check(`sync ws ${what}`, outcome.messages);
      expect([what, outcome.code]).toEqual([what, 4403]);
    }
    // Mallory's own token, with a forged per-operation token for alice: that operation fails.
    const mallory = await signInternalToken(MALLORY, DEV_INTERNAL_TOKEN_SECRET);
    const forgedOp = await rawGraphqlWs(
      wsUrl,
      [
        { type: 'connection_init', payload: { [INTERNAL_TOKEN_HEADER]: mallory } },
        { ...subscribe, payload: { ...subscribe.payload, extensions: { [INTERNAL_TOKEN_HEADER]: unsignedJwt(claims) } } },
      ],
      { waitMs: 15_000, until: (messages) => messages.some((m) => (m as { type?: string }).type === 'error') },
    );
    ledger.check('sync ws forged operation token', forgedOp.messages);
    expect(forgedOp.messages).toContainEqual(
      expect.objectContaining({ type: 'error', payload: [expect.objectContaining({ extensions: { code: 'UNAUTHENTICATED' } })] }),
    );
    // With her own token, replaying from cursor 0 with alice's task ids gives nothing.
    const { client } = wsClient(sync!.url, { [INTERNAL_TOKEN_HEADER]: mallory });
    disposers.push(() => client.dispose());
    const replay = collect(client, 'subscription($f: TaskUpdateFilter, $a: Cursor) { taskUpdates(filter: $f, after: $a) { taskId } }', {
      f: { taskIds: victim.taskIds },
      a: cursorAtStart(MALLORY),
    });
    await new Promise((r) => setTimeout(r, 1_500));
    replay.dispose();
    ledger.check('sync ws replay as mallory', replay.results);
    expect(replay.results).toEqual([]);
    expect(ledger.leaks).toEqual([]);
  });
});
