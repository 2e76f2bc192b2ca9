import { AppError, ErrorCode } from '@taskgraph/runtime';
import {
  type ASTNode,
  type DocumentNode,
  type FragmentDefinitionNode,
  GraphQLError,
  Kind,
  type SelectionSetNode,
  type ValidationRule,
} from 'graphql';

/** Per-operation limits the gateway enforces before planning (ARCHITECTURE §6). */
export interface QueryLimits {
  /** Deepest field nesting; a root field has depth 1. */
  maxDepth: number;
  /** Aliased fields, counted with fragments expanded. */
  maxAliases: number;
  /** Field selections, counted with fragments expanded (a simple complexity bound). */
  maxFields: number;
  /** Largest accepted request body; bigger bodies get HTTP 413 before parsing. */
  maxBodyBytes: number;
}

export const DEFAULT_LIMITS: QueryLimits = { maxDepth: 12, maxAliases: 30, maxFields: 500, maxBodyBytes: 100 * 1024 };

interface Cost {
  depth: number;
  aliases: number;
  fields: number;
}

const ZERO: Cost = { depth: 0, aliases: 0, fields: 0 };

/**
 * Measures every operation of a document with fragments expanded. Fragment costs are memoised,
 * so a "fragment bomb" (each fragment spreading the next twice) is measured in linear time and
 * still reported at its expanded size. Introspection subtrees (`__schema`, `__type`) are not
 * counted: introspection is switched off outside development and its standard query is deep.
 */
export function measureOperations(document: DocumentNode): { node: ASTNode; name: string; cost: Cost }[] {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) {
    if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  }
  const memo = new Map<string, Cost>();
  const visiting = new Set<string>();

  const fragmentCost = (name: string): Cost => {
    const known = memo.get(name);
    if (known) return known;
    const fragment = fragments.get(name);
    // Unknown or cyclic fragments are reported by the standard rules; count them as empty.
    if (!fragment || visiting.has(name)) return ZERO;
    visiting.add(name);
    const cost = selectionCost(fragment.selectionSet);
    visiting.delete(name);
    memo.set(name, cost);
    return cost;
  };

  const selectionCost = (set: SelectionSetNode): Cost => {
    let depth = 0;
    let aliases = 0;
    let fields = 0;
    for (const selection of set.selections) {
      let inner: Cost;
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value === '__schema' || selection.name.value === '__type') continue;
        const child = selection.selectionSet ? selectionCost(selection.selectionSet) : ZERO;
        inner = { depth: child.depth + 1, aliases: child.aliases + (selection.alias ? 1 : 0), fields: child.fields + 1 };
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        inner = selectionCost(selection.selectionSet);
      } else {
        inner = fragmentCost(selection.name.value);
      }
      depth = Math.max(depth, inner.depth);
      aliases += inner.aliases;
      fields += inner.fields;
    }
    return { depth, aliases, fields };
  };

  return document.definitions.flatMap((def) =>
    def.kind === Kind.OPERATION_DEFINITION
      ? [{ node: def, name: def.name?.value ?? '(anonymous)', cost: selectionCost(def.selectionSet) }]
      : [],
  );
}

function limitError(node: ASTNode, limit: 'depth' | 'aliases' | 'fields', max: number, actual: number, message: string): GraphQLError {
  // The AppError travels as originalError so formatGraphQLError keeps its code and details,
  // although Apollo Server wraps validation errors as GRAPHQL_VALIDATION_FAILED.
  return new GraphQLError(message, {
    nodes: [node],
    originalError: new AppError(ErrorCode.BAD_USER_INPUT, message, { limit, max, actual }),
  });
}

/** A validation rule enforcing `limits`; it runs in validation, so nothing is planned or fetched. */
export function queryLimitsRule(limits: QueryLimits): ValidationRule {
  return (context) => ({
    Document(document) {
      for (const { node, name, cost } of measureOperations(document)) {
        if (cost.depth > limits.maxDepth) {
          context.reportError(
            limitError(
              node,
              'depth',
              limits.maxDepth,
              cost.depth,
              `Operation ${name} is nested ${cost.depth} levels deep; the limit is ${limits.maxDepth}`,
            ),
          );
        }
        if (cost.aliases > limits.maxAliases) {
          context.reportError(
            limitError(
              node,
              'aliases',
              limits.maxAliases,
              cost.aliases,
              `Operation ${name} uses ${cost.aliases} aliases; the limit is ${limits.maxAliases}`,
            ),
          );
        }
        if (cost.fields > limits.maxFields) {
          context.reportError(
            limitError(
              node,
              'fields',
              limits.maxFields,
              cost.fields,
              `Operation ${name} selects ${cost.fields} fields; the limit is ${limits.maxFields}`,
            ),
          );
        }
      }
      return false;
    },
  });
}
