/**
 * Security 6 (GraphQL and graphql-ws): hostile input with fast-check. Random and hostile strings,
 * dates, RRULEs and durations into mutations; malformed GraphQL, deep/wide queries, alias and
 * fragment bombs, oversized and malformed bodies; malformed graphql-ws messages. Every answer is a
 * coded error (or an accepted write), quick; no service crashes or stalls (tasks runs in its own
 * process so a stall is observable); no rejected input writes anything.
 */

import { createTestDatabase, type TestDatabase } from '@taskgraph/testing';
import fc from 'fast-check';
import { rawGraphqlWs } from './support/attack.js';
import { Cluster, SYSTEM_SUBGRAPHS, waitFor } from './support/cluster.js';
import { Figures } from './support/figures.js';
import { HOSTILE_RRULES, hostileDuration, hostileString, hostileTaskInput, INPUT_CODES } from './support/hostile.js';
import { domainRowCounts, readLedger } from './support/invariants.js';

const figures = new Figures('security-fuzz-graphql');
const SEED = 20261124;
const USER = 'fuzzer';
let db: TestDatabase;
let cluster: Cluster;
/** Inputs after which a service stalled or died, with what happened (per test). */
let incidents: string[] = [];
/** Answers that were not a coded error nor data (uncoded, INTERNAL_SERVER_ERROR, 5xx), per test. */
let uncoded: string[] = [];
let totalIncidents = 0;
let totalUncoded = 0;

beforeEach(() => {
  incidents = [];
  uncoded = [];
});

afterEach(() => {
  totalIncidents += incidents.length;
  totalUncoded += uncoded.length;
});

beforeAll(async () => {
  db = await createTestDatabase('fuzz_graphql');
  cluster = await Cluster.start({
    databaseUrl: db.url,
    subgraphs: SYSTEM_SUBGRAPHS,
    children: ['tasks'],
    gateway: { subgraphTimeoutMs: 5_000 },
  });
}, 120_000);

afterAll(async () => {
  await cluster?.close();
  await db?.drop();
  figures.set('uncoded', totalUncoded);
  figures.set('incidents', totalIncidents);
  figures.report();
});

const healthy = async (url: string): Promise<boolean> => {
  try {
    const res = await fetch(new URL('/healthz', url), { signal: AbortSignal.timeout(2_000) });
    return res.ok;
  } catch {
    return false;
  }
};

/** After each hostile input: every service must still answer; a stalled child is restarted (and reported). */
async function assertAlive(what: string): Promise<void> {
  for (const member of cluster.members.values()) {
    if (await healthy(member.url)) continue;
    incidents.push(`${member.name} unhealthy after ${what.slice(0, 300)}`);
    if (member.child) await member.child.restart();
  }
  if (!(await healthy(cluster.gatewayUrl))) incidents.push(`gateway unhealthy after ${what.slice(0, 300)}`);
}

function judge(
  what: string,
  res: { status: number; data?: unknown; errors?: { extensions?: Record<string, unknown> }[] },
): 'accepted' | 'rejected' {
  figures.add('attempts');
  const codes = (res.errors ?? []).map((e) => String(e.extensions?.code ?? 'NONE'));
  if (res.status >= 500 || res.status === 0 || codes.some((c) => !INPUT_CODES.has(c))) {
    uncoded.push(`${what.slice(0, 200)} → ${res.status} ${codes.join(',')}`);
  }
  return res.errors || !res.data ? 'rejected' : 'accepted';
}

const CREATE =
  'mutation($input: CreateTaskInput!) { createTask(input: $input) { id nextOccurrences(count: 3) reminderRules { offset at } } }';

it('answers hostile createTask / updateTask input with a code or a clean write, and writes nothing for rejections', async () => {
  const before = await domainRowCounts(db.url, ['tasks.task', 'bus.outbox']);
  const own = await cluster.graphql<{ createTask: { id: string } }>('mutation { createTask(input: { title: "mine" }) { id } }', {}, USER);
  const ownId = own.data!.createTask.id;
  let accepted = 1;
  let acceptedUpdates = 0;
  const inputs = fc.sample(hostileTaskInput, { numRuns: 160, seed: SEED });
  for (const [i, input] of inputs.entries()) {
    const what = `createTask ${JSON.stringify(input)}`;
    const started = Date.now();
    const res = await cluster.graphql(CREATE, { input }, USER, 15_000);
    if (Date.now() - started > 4_000) incidents.push(`slow (${Date.now() - started} ms): ${what.slice(0, 300)}`);
    if (judge(what, res) === 'accepted') accepted++;
    // The same hostile fields as a partial update of an existing task.
    if (i % 4 === 0) {
      const { title: _t, ...fields } = input;
      const update = await cluster.graphql(
        'mutation($id: ID!, $input: UpdateTaskInput!) { updateTask(id: $id, input: $input) { id } }',
        { id: ownId, input: fields },
        USER,
        15_000,
      );
      if (judge(`updateTask ${JSON.stringify(fields)}`, update) === 'accepted') acceptedUpdates++;
    }
    await assertAlive(what);
  }
  // Every known-hostile RRULE with otherwise valid fields, so the rule itself is what is judged.
  for (const recurrence of HOSTILE_RRULES) {
    const input = { title: 'rrule', dueAt: '2026-12-01T09:30:00Z', timeZone: 'Europe/Paris', recurrence };
    const what = `recurrence ${JSON.stringify(recurrence)}`;
    const started = Date.now();
    const res = await cluster.graphql<{ createTask: { id: string } }>(CREATE, { input }, USER, 15_000);
    if (Date.now() - started > 4_000) incidents.push(`slow (${Date.now() - started} ms): ${what}`);
    if (judge(what, res) === 'accepted') {
      accepted++;
      // Completing it runs the recurrence worker on the rule.
      const done = await cluster.graphql(
        'mutation($id: ID!) { completeTask(id: $id) { id } }',
        { id: res.data!.createTask.id },
        USER,
        15_000,
      );
      if (judge(`complete ${what}`, done) === 'accepted') acceptedUpdates++;
    }
    await assertAlive(what);
  }
  // Reminder offsets alone (durations), and nextOccurrences with hostile counts.
  for (const offset of fc.sample(hostileDuration, { numRuns: 30, seed: SEED })) {
    const input = { title: 'offset', dueAt: new Date(Date.now() + 86_400_000).toISOString(), reminders: [{ offset }] };
    if (judge(`offset ${JSON.stringify(offset)}`, await cluster.graphql(CREATE, { input }, USER, 15_000)) === 'accepted') accepted++;
  }
  const recurring = await cluster.graphql<{ createTask: { id: string } }>(
    CREATE,
    {
      input: { title: 'r', dueAt: '2026-01-01T09:00:00Z', timeZone: 'Europe/Paris', recurrence: 'FREQ=DAILY' },
    },
    USER,
  );
  accepted++;
  for (const count of [-1, 0, 51, 1_000_000, 2 ** 31 - 1]) {
    const res = await cluster.graphql(
      'query($id: ID!, $n: Int) { task(id: $id) { nextOccurrences(count: $n) } }',
      { id: recurring.data!.createTask.id, n: count },
      USER,
    );
    judge(`nextOccurrences(${count})`, res);
  }
  // Completed recurring tasks get their next occurrence from the worker (one more task change each).
  await waitFor('the recurrence worker to catch up', async () => (await readLedger(db.url)).lag['tasks-recurrence'] === 0, 30_000);
  const successors = (await domainRowCounts(db.url, ['tasks.task where previous_occurrence_id is not null']))[
    'tasks.task where previous_occurrence_id is not null'
  ]!;
  figures.set('recurringSuccessors', successors);
  const after = await domainRowCounts(db.url, ['tasks.task', 'bus.outbox']);
  figures.add('mutations', inputs.length + Math.ceil(inputs.length / 4) + HOSTILE_RRULES.length + 31);
  figures.set('accepted', accepted + acceptedUpdates);
  // Each accepted create or update wrote one task change = two outbox events; rejections wrote nothing.
  expect(after['tasks.task']! - before['tasks.task']!).toBe(accepted + successors);
  expect(after['bus.outbox']! - before['bus.outbox']!).toBe(2 * (accepted + acceptedUpdates + successors));
  expect(incidents).toEqual([]);
  expect(uncoded).toEqual([]);
}, 240_000);

it('rejects malformed, deep, wide and oversized GraphQL requests with codes, quickly', async () => {
  const token = await cluster.tokenFor(USER);
  const post = async (body: string | Buffer, headers: Record<string, string> = {}) => {
    const res = await fetch(cluster.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    let json: { data?: unknown; errors?: { extensions?: Record<string, unknown> }[] } = {};
    try {
      json = JSON.parse(text);
    } catch {
      json = { errors: [{ extensions: { code: res.status === 413 ? 'BAD_REQUEST' : 'NOT_JSON' } }] };
    }
    return { status: res.status, ...json };
  };
  const q = (query: string, variables?: unknown) => JSON.stringify({ query, variables });
  const deep = (n: number) => `{ tasks { edges { node { ${'history { edges { node { task { '.repeat(n)}id${' } } } }'.repeat(n)} } } } }`;
  const fragmentBomb = (n: number) =>
    `query { tasks { edges { node { ...F0 } } } } ${Array.from({ length: n }, (_, i) => `fragment F${i} on Task { id ${i + 1 < n ? `...F${i + 1} ...F${i + 1}` : 'title'} }`).join(' ')}`;
  const cases: [string, string | Buffer, Record<string, string>?][] = [
    ['deep (40 levels)', q(deep(40))],
    ['wide (600 fields)', q(`{ tasks { edges { node { ${Array.from({ length: 600 }, (_, i) => `f${i}: id`).join(' ')} } } } }`)],
    ['alias bomb', q(`{ ${Array.from({ length: 500 }, (_, i) => `a${i}: tasks(first: 100) { edges { node { id title } } }`).join(' ')} }`)],
    ['fragment bomb (2^30 expanded)', q(fragmentBomb(30))],
    ['cyclic fragments', q('query { tasks { edges { node { ...A } } } } fragment A on Task { id ...B } fragment B on Task { ...A }')],
    ['directive bomb', q(`{ tasks { edges { node { id ${'@include(if: true) '.repeat(2_000)} } } } }`)],
    ['introspection', q('{ __schema { types { name fields { name } } } }')],
    ['_service sdl', q('{ _service { sdl } }')],
    ['oversized body (2 MB)', q(`{ tasks(filter: { search: "${'x'.repeat(2_000_000)}" }) { edges { node { id } } } }`)],
    ['invalid JSON', '{"query": "{ tasks { edges { node { id } } } }"'],
    ['JSON null', 'null'],
    [
      'JSON array (batch)',
      JSON.stringify([{ query: '{ tasks { edges { node { id } } } }' }, { query: '{ tasks { edges { node { id } } } }' }]),
    ],
    ['query not a string', JSON.stringify({ query: 42 })],
    [
      'variables not an object',
      JSON.stringify({ query: 'query($f: TaskFilter) { tasks(filter: $f) { edges { node { id } } } }', variables: 'x' }),
    ],
    ['wrong variable types', q('query($n: Int) { tasks(first: $n) { edges { node { id } } } }', { n: 'ten' })],
    ['huge first', q('{ tasks(first: 2147483647) { edges { node { id } } } }')],
    ['negative first', q('{ tasks(first: -5) { edges { node { id } } } }')],
    ['int overflow', q('{ tasks(first: 99999999999999999999) { edges { node { id } } } }')],
    ['bad cursor', q('query($c: Cursor) { tasks(after: $c) { edges { node { id } } } }', { c: '!!!not-base64%%%' })],
    [
      'cursor of another shape',
      q('query($c: Cursor) { tasks(after: $c) { edges { node { id } } } }', { c: Buffer.from('{"a":[1,{}]}').toString('base64') }),
    ],
    ['two anonymous operations', q('{ tasks { edges { node { id } } } } { tasks { edges { node { id } } } }')],
    ['text/plain (CSRF)', q('{ tasks { edges { node { id } } } }'), { 'content-type': 'text/plain' }],
    ['binary body', Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x02])],
  ];
  for (const [what, body, headers] of cases) {
    const started = Date.now();
    const res = await post(body, headers);
    const ms = Date.now() - started;
    figures.add('attempts');
    const codes = (res.errors ?? []).map((e) => String(e.extensions?.code ?? 'NONE'));
    if (ms > 3_000) incidents.push(`slow (${ms} ms): ${what}`);
    if (res.status >= 500 || codes.length === 0 || codes.some((c) => !INPUT_CODES.has(c)))
      uncoded.push(`${what} → ${res.status} ${codes.join(',')}`);
    await assertAlive(what);
  }
  // Random documents.
  for (const query of fc.sample(fc.oneof(hostileString(400), fc.string({ unit: 'binary', maxLength: 2_000 })), {
    numRuns: 60,
    seed: SEED,
  })) {
    const res = await post(q(query));
    figures.add('attempts');
    const codes = (res.errors ?? []).map((e) => String(e.extensions?.code ?? 'NONE'));
    if (res.status >= 500 || codes.some((c) => !INPUT_CODES.has(c)))
      uncoded.push(`random ${JSON.stringify(query).slice(0, 100)} → ${res.status} ${codes}`);
  }
  await assertAlive('random documents');
  expect(incidents).toEqual([]);
  expect(uncoded).toEqual([]);
}, 120_000);

// An operationName that names no operation in the document is the client's mistake: the gateway's
// operationResolutionPlugin answers 400 BAD_REQUEST (@apollo/gateway alone would make it a 500).
it('answers an unknown operationName with a coded 4xx', async () => {
  const res = await fetch(cluster.gatewayUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${await cluster.tokenFor(USER)}` },
    body: JSON.stringify({ query: 'query A { tasks { edges { node { id } } } }', operationName: 'B' }),
  });
  const body = (await res.json()) as { errors: { extensions: { code: string } }[] };
  expect(res.status).toBeLessThan(500);
  expect(INPUT_CODES.has(body.errors[0]!.extensions.code)).toBe(true);
});

it('closes malformed graphql-ws sessions with the protocol close codes, and stays up', async () => {
  const url = cluster.gatewayUrl.replace(/^http/, 'ws');
  const init = { type: 'connection_init', payload: { authorization: `Bearer ${await cluster.tokenFor(USER)}` } };
  const sub = (id: string) => ({ id, type: 'subscribe', payload: { query: 'subscription { taskUpdates { taskId } }' } });
  const cases: [string, unknown[], number | number[], { protocol?: string; waitMs?: number }?][] = [
    ['not JSON', ['{not json'], 4400],
    ['JSON without type', [{ hello: 'world' }], 4400],
    ['unknown type', [{ type: 'launch_missiles' }], 4400],
    ['init payload not an object', [{ type: 'connection_init', payload: 'x' }], 4400],
    ['subscribe before init', [sub('1')], 4401],
    ['second init', [init, init], 4429],
    ['duplicate subscription id', [init, sub('1'), sub('1')], 4409],
    ['subscribe without id', [init, { type: 'subscribe', payload: { query: '{ tasks { edges { node { id } } } }' } }], 4400],
    ['subscribe payload query not a string', [init, { id: '2', type: 'subscribe', payload: { query: 42 } }], 4400],
    ['complete for an unknown id then garbage', [init, { id: 'x', type: 'complete' }, ']['], 4400],
    ['binary frame', [Buffer.from([0, 1, 2, 3])], 4400],
    ['oversized message', [JSON.stringify({ type: 'connection_init', payload: { pad: 'x'.repeat(300_000) } })], 1009],
    // The server agrees on no subprotocol: `ws` aborts the handshake client-side (-1), or graphql-ws closes 4406.
    ['wrong subprotocol', [init], [4406, 1002, -1], { protocol: 'graphql-ws' }],
    ['no connection_init in time', [], 4408, { waitMs: 6_000 }],
  ];
  for (const [what, frames, expected, options] of cases) {
    const outcome = await rawGraphqlWs(url, frames, { waitMs: 5_000, ...options });
    figures.add('attempts');
    const allowed = Array.isArray(expected) ? expected : [expected];
    expect([what, allowed.includes(outcome.code) ? 'expected close' : outcome.code]).toEqual([what, 'expected close']);
    await assertAlive(what);
  }
  // Random frames after a good init: the connection may close (4400) but nothing else breaks.
  for (const frame of fc.sample(fc.oneof(fc.jsonValue(), hostileString(200)), { numRuns: 40, seed: SEED })) {
    const outcome = await rawGraphqlWs(url, [init, typeof frame === 'string' ? frame : JSON.stringify(frame)], { waitMs: 1_000 });
    figures.add('attempts');
    expect([0, 1000, 4400, 4401, 4409, 4429]).toContain(outcome.code);
  }
  await assertAlive('random graphql-ws frames');
  // A well-behaved client still works.
  const good = await rawGraphqlWs(
    url,
    [init, { id: 'ok', type: 'subscribe', payload: { query: '{ tasks(first: 1) { edges { node { id } } } }' } }],
    {
      waitMs: 20_000,
      until: (messages) => messages.some((m) => (m as { type?: string }).type === 'complete'),
    },
  );
  expect(good.messages).toContainEqual(expect.objectContaining({ id: 'ok', type: 'complete' }));
  expect(incidents).toEqual([]);
}, 180_000);
