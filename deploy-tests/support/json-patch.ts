/**
 * The JSON patch (RFC 6902) operations kustomize overlays use here: add, remove, replace, test.
 * `move`/`copy` are refused so an overlay cannot silently rely on something this renderer does not do.
 */
export interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace' | 'test' | 'move' | 'copy';
  path: string;
  value?: unknown;
}

type Container = Record<string, unknown> | unknown[];

/** RFC 6901 pointer → reference tokens. */
function tokens(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new Error(`JSON pointer must start with "/": ${pointer}`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: unknown, path: string): { parent: Container; key: string } {
  const parts = tokens(path);
  if (parts.length === 0) throw new Error('patching the document root is not supported');
  let node: unknown = doc;
  for (const part of parts.slice(0, -1)) {
    node = child(node, part, path);
  }
  if (typeof node !== 'object' || node === null) throw new Error(`${path}: parent is not an object or array`);
  return { parent: node as Container, key: parts[parts.length - 1]! };
}

function child(node: unknown, key: string, path: string): unknown {
  if (Array.isArray(node)) {
    const index = Number(key);
    if (!Number.isInteger(index) || index < 0 || index >= node.length) throw new Error(`${path}: no array index ${key}`);
    return node[index];
  }
  if (typeof node === 'object' && node !== null && Object.hasOwn(node, key)) return (node as Record<string, unknown>)[key];
  throw new Error(`${path}: no member "${key}"`);
}

/** Applies operations in order to a deep copy of `doc`; any failing operation throws (as kustomize does). */
export function applyJsonPatch<T>(doc: T, ops: readonly JsonPatchOp[]): T {
  const result = structuredClone(doc);
  for (const op of ops) {
    const { parent, key } = parentOf(result, op.path);
    switch (op.op) {
      case 'add':
        if (Array.isArray(parent)) {
          const index = key === '-' ? parent.length : Number(key);
          if (!Number.isInteger(index) || index < 0 || index > parent.length) throw new Error(`${op.path}: bad array index for add`);
          parent.splice(index, 0, structuredClone(op.value));
        } else {
          parent[key] = structuredClone(op.value);
        }
        break;
      case 'replace':
        child(parent, key, op.path);
        if (Array.isArray(parent)) parent[Number(key)] = structuredClone(op.value);
        else parent[key] = structuredClone(op.value);
        break;
      case 'remove':
        child(parent, key, op.path);
        if (Array.isArray(parent)) parent.splice(Number(key), 1);
        else delete parent[key];
        break;
      case 'test':
        if (JSON.stringify(child(parent, key, op.path)) !== JSON.stringify(op.value)) throw new Error(`${op.path}: test failed`);
        break;
      default:
        throw new Error(`JSON patch op "${op.op}" is not supported by deploy-tests/support/kustomize.ts`);
    }
  }
  return result;
}
