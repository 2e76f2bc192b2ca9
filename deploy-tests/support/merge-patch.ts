/**
 * The subset of kustomize's strategic-merge patch the overlays rely on:
 * - maps merge recursively; a `null` value deletes the key;
 * - for built-in Kubernetes kinds, lists whose items all carry `name` merge by `name` (the patchMergeKey
 *   of containers, env, volumes and Service ports); other keys (volumeMounts by mountPath, container
 *   ports by containerPort) are not modelled: such lists are replaced, so patch them with JSON patch;
 * - every other list is replaced, which is what kustomize does for custom resources (Kafka, Component, ...)
 *   whose schema it does not know (JSON merge patch, RFC 7386).
 * - in such name-keyed lists, an item `{ name, $patch: delete }` removes the item of that name.
 * Other directives (`$patch` elsewhere, `$setElementOrder`, `$retainKeys`) are refused rather than ignored.
 */
export function strategicMerge(target: unknown, patch: unknown, mergeListsByName: boolean): unknown {
  if (isMap(patch)) {
    for (const key of Object.keys(patch)) {
      if (key.startsWith('$')) throw new Error(`strategic-merge directive "${key}" is not supported by deploy-tests/support/kustomize.ts`);
    }
    const base: Record<string, unknown> = isMap(target) ? { ...target } : {};
    for (const [key, value] of Object.entries(patch)) {
      if (value === null) delete base[key];
      else base[key] = strategicMerge(base[key], value, mergeListsByName);
    }
    return base;
  }
  if (Array.isArray(patch)) {
    if (mergeListsByName && Array.isArray(target) && patch.length > 0 && [...patch, ...target].every(hasName)) {
      const merged = target.map((item) => structuredClone(item));
      for (const item of patch) {
        const index = merged.findIndex((existing) => (existing as { name: string }).name === item.name);
        if (isDelete(item)) {
          if (index < 0) throw new Error(`$patch: delete of "${item.name}": no such list item`);
          merged.splice(index, 1);
        } else if (index >= 0) merged[index] = strategicMerge(merged[index], item, mergeListsByName);
        else merged.push(structuredClone(item));
      }
      return merged;
    }
    return structuredClone(patch);
  }
  return patch;
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const hasName = (v: unknown): v is { name: string } => isMap(v) && typeof v.name === 'string';
const isDelete = (v: { name: string }): boolean => {
  const keys = Object.keys(v);
  return (v as Record<string, unknown>).$patch === 'delete' && keys.length === 2;
};
