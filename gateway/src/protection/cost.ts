import {
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLOutputType,
  type GraphQLSchema,
  getNamedType,
  isCompositeType,
  isListType,
  isNonNullType,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import type { CostModel, FieldCost } from './cost-model.js';

const NO_COST: FieldCost = {};

/** What an operation is estimated to cost before it runs (see `CostModel` for the formula). */
export interface OperationCostInput {
  schema: GraphQLSchema;
  operation: OperationDefinitionNode;
  /** The document's fragments by name. */
  fragments: ReadonlyMap<string, FragmentDefinitionNode>;
  /** The request's variables as sent (defaults of the operation are applied here). */
  variables: Readonly<Record<string, unknown>> | undefined;
  model: CostModel;
}

/** The document's fragment definitions by name. */
export function fragmentsOf(definitions: readonly { kind: Kind }[]): Map<string, FragmentDefinitionNode> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of definitions) {
    if (def.kind === Kind.FRAGMENT_DEFINITION) {
      const fragment = def as FragmentDefinitionNode;
      fragments.set(fragment.name.value, fragment);
    }
  }
  return fragments;
}

/** Number of list wrappers of a type (`[[T]]` → 2): nested lists multiply. */
function listDepth(type: GraphQLOutputType): number {
  let depth = 0;
  let current: GraphQLOutputType = type;
  for (;;) {
    if (isNonNullType(current)) current = current.ofType;
    else if (isListType(current)) {
      depth++;
      current = current.ofType;
    } else return depth;
  }
}

/**
 * The static cost of one operation: runs in O(selections) with fragment costs memoised per parent
 * type and size, so a fragment bomb is costed at its expanded size without being expanded. Selections
 * are summed (also both branches of `@skip`/`@include` and of inline fragments), which keeps the
 * result an upper bound. Field validation has run, so unknown fields cannot occur (they count 0).
 */
export function estimateOperationCost(input: OperationCostInput): number {
  const { schema, operation, fragments, model } = input;
  const variableDefaults = new Map<string, ValueNode>();
  for (const def of operation.variableDefinitions ?? []) {
    if (def.defaultValue) variableDefaults.set(def.variable.name.value, def.defaultValue);
  }
  const memo = new Map<string, number>();
  const visiting = new Set<string>();

  /** An integer argument's value: literal, variable (as sent, else its default), else the schema default. */
  const intArgument = (node: FieldNode, field: GraphQLField<unknown, unknown>, name: string): number | undefined => {
    const arg = node.arguments?.find((a) => a.name.value === name);
    let value: unknown;
    if (arg?.value.kind === Kind.INT) value = Number(arg.value.value);
    else if (arg?.value.kind === Kind.VARIABLE) {
      const variable = arg.value.name.value;
      value = input.variables?.[variable];
      const fallback = variableDefaults.get(variable);
      if (value === undefined && fallback?.kind === Kind.INT) value = Number(fallback.value);
    }
    // Not given (or a variable not sent and without default): graphql-js applies the schema default.
    if (value === undefined && (!arg || arg.value.kind === Kind.VARIABLE)) value = field.args.find((a) => a.name === name)?.defaultValue;
    return typeof value === 'number' && Number.isFinite(value) ? Math.max(0, Math.floor(value)) : undefined;
  };

  const sizeOf = (node: FieldNode, field: GraphQLField<unknown, unknown>, spec: FieldCost, sizedBy: number | undefined): number => {
    if (sizedBy !== undefined) return sizedBy;
    for (const name of spec.slicingArguments ?? []) {
      const value = intArgument(node, field, name);
      if (value !== undefined) return value;
    }
    return spec.assumedSize ?? model.defaultListSize;
  };

  const fieldCost = (node: FieldNode, parent: GraphQLObjectType, sized: ReadonlyMap<string, number> | undefined): number => {
    const field = parent.getFields()[node.name.value];
    if (!field) return 0; // __typename (and fields validation already refused)
    const spec = model.fields[`${parent.name}.${field.name}`] ?? NO_COST;
    const named = getNamedType(field.type);
    const lists = listDepth(field.type);
    let childSized: Map<string, number> | undefined;
    if (spec.sizedFields && spec.sizedFields.length > 0) {
      const size = sizeOf(node, field, spec, undefined);
      childSized = new Map(spec.sizedFields.map((name) => [name, size]));
    }
    const perItem = (isCompositeType(named) ? 1 : 0) + (node.selectionSet ? selectionCost(node.selectionSet, named, childSized) : 0);
    let count = 1;
    if (lists > 0) {
      const size = sizeOf(node, field, spec, sized?.get(field.name));
      count = size ** lists;
    }
    return (spec.weight ?? 0) + count * perItem;
  };

  const fragmentCost = (
    fragment: FragmentDefinitionNode,
    type: GraphQLNamedType,
    sized: ReadonlyMap<string, number> | undefined,
  ): number => {
    // Sizes passed down only reach a connection's direct children; they are part of the memo key.
    const key = `${fragment.name.value}\u0000${type.name}\u0000${sized ? [...sized].join(',') : ''}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    if (visiting.has(key)) return 0; // cycles are refused by validation
    visiting.add(key);
    const cost = selectionCost(fragment.selectionSet, type, sized);
    visiting.delete(key);
    memo.set(key, cost);
    return cost;
  };

  const selectionCost = (set: SelectionSetNode, type: GraphQLNamedType, sized: ReadonlyMap<string, number> | undefined): number => {
    let total = 0;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        // Abstract parents: this API has none in its client schema; count their fields as nothing
        // more than the object itself (their concrete fields arrive through inline fragments).
        if (isObjectType(type)) total += fieldCost(selection, type, sized);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const condition = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : type;
        total += selectionCost(selection.selectionSet, condition ?? type, sized);
      } else {
        const fragment = fragments.get(selection.name.value);
        const condition = fragment ? schema.getType(fragment.typeCondition.name.value) : undefined;
        if (fragment && condition) total += fragmentCost(fragment, condition, sized);
      }
    }
    return total;
  };

  const root = schema.getRootType(operation.operation);
  if (!root) return 0;
  const base = operation.operation === 'mutation' ? model.mutationCost : 0;
  return base + selectionCost(operation.selectionSet, root, undefined);
}

/**
 * The cost model applied to a response instead of to the operation: the same weights, with the
 * lists' real lengths. Cheap (one walk of the result); reported beside the estimate in development.
 */
export function actualOperationCost(input: Omit<OperationCostInput, 'variables'>, data: unknown): number {
  const { schema, operation, fragments, model } = input;

  const walk = (set: SelectionSetNode, type: GraphQLNamedType, value: unknown): number => {
    if (value === null || typeof value !== 'object') return 0;
    if (Array.isArray(value)) return value.reduce((sum: number, item) => sum + walk(set, type, item), 0);
    const record = value as Record<string, unknown>;
    let total = 0;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        if (!isObjectType(type)) continue;
        const field = type.getFields()[selection.name.value];
        const key = selection.alias?.value ?? selection.name.value;
        if (!field || !(key in record)) continue;
        const spec = model.fields[`${type.name}.${field.name}`] ?? NO_COST;
        const named = getNamedType(field.type);
        total += (spec.weight ?? 0) + objects(selection.selectionSet, named, record[key]);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const condition = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : type;
        total += walk(selection.selectionSet, condition ?? type, value);
      } else {
        const fragment = fragments.get(selection.name.value);
        const condition = fragment ? schema.getType(fragment.typeCondition.name.value) : undefined;
        if (fragment && condition) total += walk(fragment.selectionSet, condition, value);
      }
    }
    return total;
  };

  /** Each non-null object costs 1 plus its selections; lists count their items. */
  const objects = (set: SelectionSetNode | undefined, type: GraphQLNamedType, value: unknown): number => {
    if (value === null || value === undefined || !set) return 0;
    if (Array.isArray(value)) return value.reduce((sum: number, item) => sum + objects(set, type, item), 0);
    return (isCompositeType(type) ? 1 : 0) + walk(set, type, value);
  };

  const root = schema.getRootType(operation.operation);
  if (!root) return 0;
  return (operation.operation === 'mutation' ? model.mutationCost : 0) + walk(operation.selectionSet, root, data);
}
