import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Supergraph } from '@apollo/federation-internals';
import { getNamedType, isListType, isNonNullType, isObjectType, Kind, type OperationDefinitionNode, parse } from 'graphql';
import { repoRoot } from '../config.js';
import { actualOperationCost, estimateOperationCost, fragmentsOf } from './cost.js';
import { DEFAULT_COST_MODEL } from './cost-model.js';
import { DEFAULT_PROTECTION } from './options.js';

const schema = Supergraph.build(readFileSync(join(repoRoot(), 'schema/supergraph.graphql'), 'utf8'))
  .apiSchema()
  .toGraphQLJSSchema();

function cost(query: string, variables?: Record<string, unknown>, operationName?: string): number {
  const document = parse(query);
  const operation = document.definitions.find(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION && (!operationName || d.name?.value === operationName),
  );
  if (!operation) throw new Error('no operation');
  return estimateOperationCost({ schema, operation, fragments: fragmentsOf(document.definitions), variables, model: DEFAULT_COST_MODEL });
}

describe('the cost model', () => {
  it('describes fields of the served schema, with their slicing arguments (drift fails here)', () => {
    for (const [coordinate, spec] of Object.entries(DEFAULT_COST_MODEL.fields)) {
      const [typeName, fieldName] = coordinate.split('.') as [string, string];
      const type = schema.getType(typeName) ?? schema.getType(typeName);
      if (!isObjectType(type)) throw new Error(`${coordinate}: no object type ${typeName}`);
      const field = type.getFields()[fieldName];
      expect({ coordinate, exists: field !== undefined }).toEqual({ coordinate, exists: true });
      const args = new Set(field!.args.map((a) => a.name));
      // `last` is declared for connections that may add it; at least one slicing argument must exist.
      if (spec.slicingArguments) expect(spec.slicingArguments.some((name) => args.has(name))).toBe(true);
      for (const sized of spec.sizedFields ?? []) {
        const connection = getNamedType(field!.type);
        if (!isObjectType(connection)) throw new Error(`${coordinate}: sizedFields on a non-object`);
        const child = connection.getFields()[sized]!.type;
        expect(isListType(isNonNullType(child) ? child.ofType : child)).toBe(true);
      }
    }
  });
});

describe('estimateOperationCost', () => {
  it('multiplies a connection by first: weight + connection + first × (edge + node)', () => {
    expect(cost('{ tasks(first: 5) { edges { node { id title } } } }')).toBe(5 + 1 + 5 * 2);
    expect(cost('{ tasks(first: 5) { edges { cursor } pageInfo { hasNextPage } } }')).toBe(5 + 1 + 5 + 1);
  });

  it('takes first from variables, then the variable default, then the argument default', () => {
    const query = 'query($n: Int) { tasks(first: $n) { edges { node { id } } } }';
    expect(cost(query, { n: 3 })).toBe(5 + 1 + 3 * 2);
    expect(cost('query($n: Int = 7) { tasks(first: $n) { edges { node { id } } } }')).toBe(5 + 1 + 7 * 2);
    expect(cost(query, {})).toBe(5 + 1 + 20 * 2); // variable not sent: the schema default applies
    expect(cost(query, { n: null })).toBe(5 + 1 + 100 * 2); // null: the subgraph maximum
    expect(cost('{ tasks { edges { node { id } } } }')).toBe(5 + 1 + 20 * 2); // schema default first: 20
  });

  it('multiplies nested lists and adds entity-fetch weights', () => {
    const query = '{ auditLog(first: 10) { edges { node { id task { id history(first: 4) { edges { node { id } } } } } } } }';
    // auditLog 5 + conn 1 + 10 × (edge 1 + node 1 + task (2 + 1 + history (5 + 1 + 4 × 2)))
    expect(cost(query)).toBe(5 + 1 + 10 * (1 + 1 + (2 + 1 + (5 + 1 + 4 * 2))));
  });

  it('puts the issue’s multiplying query far over the budget', () => {
    const entry = 'id action task { id title history(first: 100) { edges { node { id action changes { field } } } } }';
    const aliases = Array.from({ length: 20 }, (_, i) => `a${i}: auditLog(first: 100) { edges { node { ${entry} } } }`).join(' ');
    expect(cost(`{ ${aliases} }`)).toBeGreaterThan(100 * DEFAULT_PROTECTION.maxCost);
  });

  it('adds the mutation cost and counts scalars as free', () => {
    expect(cost('mutation { markAllNotificationsRead }')).toBe(DEFAULT_COST_MODEL.mutationCost);
    expect(cost('{ unreadNotificationCount }')).toBe(0);
  });

  it('costs a fragment bomb at its expanded size without expanding it', () => {
    const levels = 40;
    const fragments = Array.from({ length: levels }, (_, i) =>
      i === levels - 1 ? `fragment F${i} on Task { reminders { id } }` : `fragment F${i} on Task { ...F${i + 1} ...F${i + 1} }`,
    ).join('\n');
    const started = performance.now();
    const value = cost(`{ task(id: "1") { ...F0 } } ${fragments}`);
    expect(performance.now() - started).toBeLessThan(50);
    expect(value).toBe(1 + 2 ** (levels - 1) * (2 + 10));
  });

  it('admits every operation of @taskgraph/client at its largest page (first: 100)', () => {
    const dir = join(repoRoot(), 'client/src/operations');
    const text = readdirSync(dir)
      .filter((f) => f.endsWith('.graphql'))
      .map((f) => readFileSync(join(dir, f), 'utf8'))
      .join('\n');
    const document = parse(text);
    const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
    expect(operations.length).toBeGreaterThan(10);
    for (const operation of operations) {
      const estimated = estimateOperationCost({
        schema,
        operation,
        fragments: fragmentsOf(document.definitions),
        variables: { first: 100, occurrences: 50 },
        model: DEFAULT_COST_MODEL,
      });
      const budget = operation.operation === 'subscription' ? DEFAULT_PROTECTION.maxSubscriptionEventCost : DEFAULT_PROTECTION.maxCost;
      expect({ operation: operation.name?.value, fits: estimated <= budget }).toEqual({ operation: operation.name?.value, fits: true });
    }
  });
});

describe('actualOperationCost', () => {
  it('applies the same model to a response, with the real list lengths', () => {
    const document = parse('{ t: tasks(first: 5) { edges { node { id reminders { id } } } } }');
    const operation = document.definitions[0] as OperationDefinitionNode;
    const input = { schema, operation, fragments: fragmentsOf(document.definitions), model: DEFAULT_COST_MODEL };
    const data = { t: { edges: [{ node: { id: '1', reminders: [{ id: 'a' }, { id: 'b' }] } }, { node: { id: '2', reminders: null } }] } };
    // tasks 5 + conn 1 + 2 × (edge 1 + node 1 + reminders weight 2) + 2 reminders
    expect(actualOperationCost(input, data)).toBe(5 + 1 + 2 * (1 + 1 + 2) + 2);
    expect(estimateOperationCost({ ...input, variables: {} })).toBeGreaterThanOrEqual(actualOperationCost(input, data));
  });
});
