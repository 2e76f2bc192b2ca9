/**
 * Security: the demand-control estimate is an upper bound (issue 14). fast-check generates queries
 * over the real client schema — any fields, nested lists (`history` under `auditLog`'s `task` …),
 * aliases, random `first`/`count` — and runs them through the real gateway and subgraphs against
 * seeded data. For every query, the objects (rows and entity representations) in the response never
 * exceed the estimate the gateway computed before running it (`extensions.cost.estimated`), and the
 * model applied to the response (`actual`) stays below it too.
 */
import { randomBytes } from 'node:crypto';
import { type RunningSystem, startSystem } from '@taskgraph/testing';
import fc from 'fast-check';
import { type GraphQLField, type GraphQLObjectType, getNamedType, isLeafType, isNonNullType, isObjectType } from 'graphql';
import { waitFor } from './support/cluster.js';
import { Figures } from './support/figures.js';

const SEED = 20261129;
const MAX_DEPTH = 7;
const figures = new Figures('security-cost-bound');
const ALICE = `alice-${randomBytes(4).toString('hex')}`;
let system: RunningSystem;
let taskIds: string[] = [];

type Json = Record<string, unknown>;

/** Every non-null object below `data` (each is a row or an entity representation the gateway fetched). */
function countObjects(value: unknown): number {
  if (Array.isArray(value)) return value.reduce((sum: number, item) => sum + countObjects(item), 0);
  if (value === null || typeof value !== 'object') return 0;
  return 1 + Object.values(value).reduce((sum: number, child) => sum + countObjects(child), 0);
}

/** Arguments a generated selection may pass; fields with other required arguments are left out. */
function argumentsArb(field: GraphQLField<unknown, unknown>): fc.Arbitrary<string> | undefined {
  const parts: fc.Arbitrary<string>[] = [];
  for (const arg of field.args) {
    if (arg.name === 'first')
      parts.push(fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }).map((n) => (n === undefined ? '' : `first: ${n}`)));
    else if (arg.name === 'count')
      parts.push(fc.option(fc.integer({ min: 0, max: 50 }), { nil: undefined }).map((n) => (n === undefined ? '' : `count: ${n}`)));
    else if (arg.name === 'id' && isNonNullType(arg.type)) parts.push(fc.constantFrom(...taskIds).map((id) => `id: "${id}"`));
    else if (isNonNullType(arg.type) && arg.defaultValue === undefined) return undefined;
  }
  return fc.tuple(...parts).map((values) => {
    const used = values.filter(Boolean);
    return used.length > 0 ? `(${used.join(', ')})` : '';
  });
}

/** Selections of `type` nested at most `depth` more levels, memoised per type and depth. */
function selectionArb(type: GraphQLObjectType, depth: number, memo = new Map<string, fc.Arbitrary<string>>()): fc.Arbitrary<string> {
  const key = `${type.name}:${depth}`;
  const known = memo.get(key);
  if (known) return known;
  const fields: fc.Arbitrary<string>[] = [];
  for (const field of Object.values(type.getFields())) {
    const args = argumentsArb(field);
    if (!args) continue;
    const named = getNamedType(field.type);
    const alias = fc.option(fc.constantFrom('a', 'b', 'c'), { nil: undefined }).map((a) => (a ? `${a}_${field.name}: ` : ''));
    if (isLeafType(named)) fields.push(fc.tuple(alias, args).map(([a, x]) => `${a}${field.name}${x}`));
    else if (isObjectType(named) && depth > 0) {
      const inner = selectionArb(named, depth - 1, memo);
      fields.push(fc.tuple(alias, args, inner).map(([a, x, sub]) => `${a}${field.name}${x} { ${sub} }`));
    }
  }
  const arb =
    fields.length === 0
      ? fc.constant('__typename')
      : fc
          .subarray(fields, { minLength: 1, maxLength: Math.min(4, fields.length) })
          .chain((picked) => fc.tuple(...picked).map((parts) => parts.join(' ')));
  memo.set(key, arb);
  return arb;
}

beforeAll(async () => {
  system = await startSystem({ gateway: { protection: { reportCost: true, maxCost: Number.MAX_SAFE_INTEGER } } });
  const now = Date.now();
  const mutate = async (query: string, variables: Json = {}) => {
    const res = await system.graphql<Json>(query, variables, ALICE);
    expect(res.errors).toBeUndefined();
    return Object.values(res.data!)[0] as { id: string };
  };
  for (let i = 0; i < 6; i++) {
    const task = await mutate('mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }', {
      i: {
        title: `t${i}`,
        tags: ['x', `t${i}`],
        dueAt: new Date(now + 3_600_000).toISOString(),
        recurrence: i % 2 === 0 ? 'FREQ=DAILY' : null,
        reminders: i === 0 ? [{ at: new Date(now + 1_000).toISOString() }, { offset: 'PT5M' }] : [{ offset: 'PT15M' }],
      },
    });
    taskIds.push(task.id);
    for (let v = 0; v < i; v++)
      await mutate('mutation($id: ID!, $t: String!) { updateTask(id: $id, input: { title: $t, notes: $t }) { id } }', {
        id: task.id,
        t: `t${i}.${v}`,
      });
    if (i === 5) await mutate('mutation($id: ID!) { completeTask(id: $id) { id } }', { id: task.id });
  }
  taskIds = [...taskIds, 'no-such-task'];
  await waitFor(
    'audit entries and the fired reminder',
    async () => {
      const res = await system.graphql<Json>('{ auditLog(first: 100) { edges { cursor } } notifications { edges { cursor } } }', {}, ALICE);
      const audit = (res.data?.auditLog as { edges: unknown[] } | undefined)?.edges.length ?? 0;
      const inbox = (res.data?.notifications as { edges: unknown[] } | undefined)?.edges.length ?? 0;
      return audit === 6 + 15 + 1 && inbox >= 1;
    },
    30_000,
  );
}, 120_000);

afterAll(async () => {
  figures.report();
  await system?.close();
});

it('bounds the objects of every generated query over the real schema by its estimated cost', async () => {
  const query = system.gateway.schema().apiSchema.getQueryType()!;
  let maxObjects = 0;
  let tightest = Number.POSITIVE_INFINITY;
  await fc.assert(
    fc.asyncProperty(selectionArb(query, MAX_DEPTH), async (selection) => {
      const text = `{ ${selection} }`;
      const res = await system.graphql<Json>(text, {}, ALICE);
      const body = res as unknown as { errors?: unknown[]; data?: Json; extensions?: { cost?: { estimated: number; actual: number } } };
      figures.add('attempts');
      expect(body.errors).toBeUndefined();
      const cost = body.extensions?.cost;
      if (!cost) throw new Error(`no extensions.cost for ${text}`);
      const objects = countObjects(Object.values(body.data ?? {})); // the root `data` object is not fetched
      maxObjects = Math.max(maxObjects, objects);
      if (objects > 0) tightest = Math.min(tightest, cost.estimated / objects);
      expect(objects).toBeLessThanOrEqual(cost.actual);
      expect(cost.actual).toBeLessThanOrEqual(cost.estimated);
    }),
    { numRuns: 100, seed: SEED, endOnFailure: true },
  );
  figures.set('max_objects', maxObjects);
  figures.set('tightest_estimate_over_objects', Number.isFinite(tightest) ? tightest.toFixed(2) : 'n/a');
  // The generator reached nested lists: some response held many objects.
  expect(maxObjects).toBeGreaterThan(20);
}, 180_000);
