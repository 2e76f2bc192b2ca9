import { type DocumentNode, Kind, type OperationDefinitionNode, print } from 'graphql';

const texts = new WeakMap<DocumentNode, string>();

/** The document's source text, printed once per document object. */
export function printed(document: DocumentNode): string {
  let text = texts.get(document);
  if (text === undefined) {
    text = print(document);
    texts.set(document, text);
  }
  return text;
}

/** The document's single operation (codegen emits one operation per document). */
export function operationOf(document: DocumentNode): OperationDefinitionNode {
  const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (!operation) throw new Error('The document has no operation');
  return operation;
}

export const operationName = (document: DocumentNode): string | undefined => operationOf(document).name?.value;

/**
 * Where a resumable subscription keeps its position (ARCHITECTURE §6 "Gap-free realtime"): an operation
 * declaring `$after: Cursor` whose root field selects `cursor`. Returns the root field's response
 * key, or undefined when the operation cannot resume.
 */
export function resumeKey(document: DocumentNode): string | undefined {
  const operation = operationOf(document);
  const declaresAfter = operation.variableDefinitions?.some(
    (v) => v.variable.name.value === 'after' && v.type.kind === Kind.NAMED_TYPE && v.type.name.value === 'Cursor',
  );
  const root = operation.selectionSet.selections[0];
  if (!declaresAfter || root?.kind !== Kind.FIELD) return undefined;
  const selectsCursor = root.selectionSet?.selections.some((s) => s.kind === Kind.FIELD && s.name.value === 'cursor' && !s.alias);
  return selectsCursor ? (root.alias ?? root.name).value : undefined;
}

/**
 * The document's trusted-document hash (sha256 hex of its normalized text), which `npm run codegen`
 * embeds as `__meta__.hash` and registers in `persisted-documents.json`; undefined for documents
 * built elsewhere.
 */
export function persistedHash(document: DocumentNode): string | undefined {
  const hash = (document as { __meta__?: { hash?: unknown } }).__meta__?.hash;
  return typeof hash === 'string' ? hash : undefined;
}

/** The standard persisted-query extension (Apollo APQ shape) naming `hash`. */
export const persistedQueryExtension = (hash: string) => ({ persistedQuery: { version: 1, sha256Hash: hash } });
