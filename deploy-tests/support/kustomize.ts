import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { parse } from 'yaml';
import { applyJsonPatch, type JsonPatchOp } from './json-patch.js';
import { apiGroup, type K8sObject, objectId, parseYamlFile, readObjects } from './manifest.js';
import { strategicMerge } from './merge-patch.js';

/**
 * A small kustomize (v5) renderer for the features k8s/ uses, so the deploy tests need no binary and no
 * network. No pure-JS kustomize exists on npm; this follows kustomize's documented semantics and
 * deploy-tests/kustomize.test.ts compares it with output recorded from `kubectl kustomize` (v5.5.0).
 *
 * Supported, in kustomize's order of application:
 * 1. `resources`: files (multi-document) and directories holding a kustomization, recursively. As with
 *    kustomize's default load restrictor, files (resources and patches) must be inside the kustomization's
 *    directory; other kustomizations may be anywhere;
 * 2. `patches`: `path` or inline `patch`, either a strategic-merge patch (see merge-patch.ts) or a JSON
 *    patch (a YAML list of ops), with an optional `target` (kind, name and namespace as anchored regular
 *    expressions, group, version, labelSelector `k=v,...`). Unlike kustomize, a patch matching nothing is
 *    an error here: an overlay patch that silently stops applying is exactly the drift worth catching;
 * 3. `namespace`: set on namespaced objects and on ServiceAccount subjects of (Cluster)RoleBindings that
 *    have no namespace or `default`;
 * 4. `labels` (`pairs` with `includeSelectors: false` only): added to metadata.labels;
 * 5. `images`: `name` → `newName` / `newTag` / `digest` on every container and initContainer image;
 * 6. `secretGenerator` (added with the resources): `name`, `type`, `literals`, `envs` (`KEY=value` lines),
 *    and `options.disableNameSuffixHash: true`, which is required here: kustomize would rename the Secret
 *    with a content hash and rewrite `secretKeyRef`s, but not the `dapr.io/app-token-secret` annotation.
 *    An `envs` file that does not exist (the minikube overlay's are created per cluster and never committed)
 *    is read from `<file>.example` next to it, so the checks see the same keys kustomize will.
 * Any other kustomization field is rejected, so a new feature fails here until it is implemented.
 */
export function renderKustomization(dir: string): K8sObject[] {
  const root = resolve(dir);
  const file = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'].map((f) => join(root, f)).find((f) => existsSync(f));
  if (!file) throw new Error(`${dir}: no kustomization.yaml`);
  const k = parse(readFileSync(file, 'utf8')) as Kustomization;
  const unsupported = Object.keys(k).filter((key) => !SUPPORTED_FIELDS.has(key));
  if (unsupported.length > 0)
    throw new Error(`${rel(file)}: unsupported kustomization fields ${unsupported.join(', ')} (see deploy-tests/support/kustomize.ts)`);
  if (k.kind !== undefined && k.kind !== 'Kustomization') throw new Error(`${rel(file)}: kind ${k.kind} is not supported`);

  let objects: K8sObject[] = [];
  for (const entry of k.resources ?? []) {
    const path = resolve(root, entry);
    if (!existsSync(path)) throw new Error(`${rel(file)}: resource ${entry} does not exist`);
    objects.push(...(statSync(path).isDirectory() ? renderKustomization(path) : readObjects(insideRoot(path, root, file))));
  }
  for (const generator of k.secretGenerator ?? []) objects.push(generateSecret(generator, root, file));
  assertUnique(objects, file);

  for (const patch of k.patches ?? []) objects = applyPatch(objects, patch, root, file);
  if (k.namespace) objects = objects.map((o) => setNamespace(o, k.namespace!));
  for (const label of k.labels ?? []) objects = objects.map((o) => addLabels(o, label, file));
  for (const image of k.images ?? []) objects = objects.map((o) => setImage(o, image));
  assertUnique(objects, file);
  return objects;
}

interface Kustomization {
  apiVersion?: string;
  kind?: string;
  resources?: string[];
  namespace?: string;
  patches?: PatchEntry[];
  labels?: { pairs: Record<string, string>; includeSelectors?: boolean; includeTemplates?: boolean }[];
  images?: ImageEntry[];
  secretGenerator?: SecretGeneratorEntry[];
}

interface SecretGeneratorEntry {
  name: string;
  type?: string;
  literals?: string[];
  envs?: string[];
  options?: { disableNameSuffixHash?: boolean };
}

interface PatchEntry {
  path?: string;
  patch?: string;
  target?: { kind?: string; name?: string; namespace?: string; group?: string; version?: string; labelSelector?: string };
  options?: unknown;
}

interface ImageEntry {
  name: string;
  newName?: string;
  newTag?: string;
  digest?: string;
}

const SUPPORTED_FIELDS = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'patches', 'labels', 'images', 'secretGenerator']);

/** Kinds that are not namespaced (the ones that could appear here). */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PersistentVolume',
  'StorageClass',
  'PriorityClass',
  'IngressClass',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
]);

/** API groups whose kinds kustomize knows, so strategic-merge lists merge by key instead of being replaced. */
const BUILT_IN_GROUPS = new Set(['', 'apps', 'batch', 'autoscaling', 'policy', 'networking.k8s.io', 'rbac.authorization.k8s.io']);

const rel = (path: string): string => relative(process.cwd(), path) || path;

function insideRoot(path: string, root: string, file: string): string {
  const r = relative(root, path);
  if (r.startsWith('..') || isAbsolute(r)) throw new Error(`${rel(file)}: file ${rel(path)} is not in or below ${rel(root)}`);
  return path;
}

function assertUnique(objects: K8sObject[], file: string): void {
  const seen = new Set<string>();
  for (const o of objects) {
    const id = `${o.apiVersion.split('/')[0]}:${objectId(o)}`;
    if (seen.has(id)) throw new Error(`${rel(file)}: ${objectId(o)} is defined twice`);
    seen.add(id);
  }
}

function matches(o: K8sObject, target: NonNullable<PatchEntry['target']>): boolean {
  const anchored = (pattern: string, value: string | undefined) => new RegExp(`^(?:${pattern})$`).test(value ?? '');
  if (target.kind && !anchored(target.kind, o.kind)) return false;
  if (target.name && !anchored(target.name, o.metadata.name)) return false;
  if (target.namespace && !anchored(target.namespace, o.metadata.namespace)) return false;
  if (target.group !== undefined && target.group !== apiGroup(o.apiVersion)) return false;
  if (target.version && target.version !== o.apiVersion.split('/').pop()) return false;
  if (target.labelSelector) {
    for (const term of target.labelSelector.split(',')) {
      const [key, value] = term.split('=').map((s) => s.trim());
      if (!key || value === undefined || o.metadata.labels?.[key] !== value) return false;
    }
  }
  return true;
}

function applyPatch(objects: K8sObject[], entry: PatchEntry, root: string, file: string): K8sObject[] {
  if (entry.options !== undefined) throw new Error(`${rel(file)}: patch options are not supported`);
  if (!entry.path === !entry.patch) throw new Error(`${rel(file)}: a patch needs exactly one of path or patch`);
  const where = entry.path ?? 'inline patch';
  const docs = entry.path ? parseYamlFile(insideRoot(resolve(root, entry.path), root, file)) : [parse(entry.patch!)];
  if (docs.length !== 1) throw new Error(`${rel(file)}: ${where} must hold exactly one document`);
  const body = docs[0];
  const isJsonPatch = Array.isArray(body);
  let target = entry.target;
  if (!target) {
    if (isJsonPatch) throw new Error(`${rel(file)}: JSON patch ${where} needs a target`);
    const p = body as Partial<K8sObject>;
    if (!p.kind || !p.metadata?.name) throw new Error(`${rel(file)}: ${where} needs kind and metadata.name (or a target)`);
    target = { kind: escapeRegExp(p.kind), name: escapeRegExp(p.metadata.name) };
  }
  let hits = 0;
  const result = objects.map((o) => {
    if (!matches(o, target)) return o;
    hits += 1;
    if (isJsonPatch) return applyJsonPatch(o, body as JsonPatchOp[]);
    const patch = structuredClone(body) as Partial<K8sObject>;
    // With a target, the patch's own identity fields do not rename the object (kustomize ignores them).
    delete patch.apiVersion;
    delete patch.kind;
    if (patch.metadata) {
      const identity = patch.metadata as Partial<K8sObject['metadata']>;
      delete identity.name;
      delete identity.namespace;
    }
    return strategicMerge(o, patch, BUILT_IN_GROUPS.has(apiGroup(o.apiVersion))) as K8sObject;
  });
  if (hits === 0) throw new Error(`${rel(file)}: ${where} (target ${JSON.stringify(target)}) matches no object`);
  return result;
}

function generateSecret(entry: SecretGeneratorEntry, root: string, file: string): K8sObject {
  const unsupported = Object.keys(entry).filter((key) => !['name', 'type', 'literals', 'envs', 'options'].includes(key));
  if (unsupported.length > 0) throw new Error(`${rel(file)}: secretGenerator ${entry.name}: unsupported fields ${unsupported.join(', ')}`);
  if (entry.options?.disableNameSuffixHash !== true)
    throw new Error(
      `${rel(file)}: secretGenerator ${entry.name}: needs options.disableNameSuffixHash: true (see deploy-tests/support/kustomize.ts)`,
    );
  const pairs: [string, string][] = [];
  for (const literal of entry.literals ?? []) pairs.push(splitPair(literal, `${rel(file)}: secretGenerator ${entry.name}`));
  for (const env of entry.envs ?? []) {
    const path = insideRoot(resolve(root, env), root, file);
    const source = existsSync(path) ? path : `${path}.example`;
    if (!existsSync(source)) throw new Error(`${rel(file)}: secretGenerator ${entry.name}: env file ${env} does not exist`);
    for (const line of readFileSync(source, 'utf8').split('\n')) {
      const trimmed = line.trim();
      if (trimmed !== '' && !trimmed.startsWith('#')) pairs.push(splitPair(trimmed, rel(source)));
    }
  }
  const data: Record<string, string> = {};
  for (const [key, value] of pairs) {
    if (key in data) throw new Error(`${rel(file)}: secretGenerator ${entry.name}: key ${key} given twice`);
    data[key] = Buffer.from(value, 'utf8').toString('base64');
  }
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name: entry.name }, type: entry.type ?? 'Opaque', data };
}

function splitPair(line: string, where: string): [string, string] {
  const at = line.indexOf('=');
  if (at <= 0) throw new Error(`${where}: ${JSON.stringify(line)} is not KEY=value`);
  return [line.slice(0, at), line.slice(at + 1)];
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function setNamespace(o: K8sObject, namespace: string): K8sObject {
  if (CLUSTER_SCOPED.has(o.kind)) return o;
  const copy = structuredClone(o);
  copy.metadata.namespace = namespace;
  if ((o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding') && Array.isArray(copy.subjects)) {
    for (const subject of copy.subjects) {
      if (subject.kind === 'ServiceAccount' && (!subject.namespace || subject.namespace === 'default')) subject.namespace = namespace;
    }
  }
  return copy;
}

function addLabels(o: K8sObject, label: NonNullable<Kustomization['labels']>[number], file: string): K8sObject {
  if (label.includeSelectors || label.includeTemplates)
    throw new Error(`${rel(file)}: labels with includeSelectors/includeTemplates are not supported`);
  const copy = structuredClone(o);
  copy.metadata.labels = { ...copy.metadata.labels, ...label.pairs };
  return copy;
}

/** Splits `registry:5000/name:tag@sha256:…` into name, tag and digest. */
export function parseImage(image: string): { name: string; tag?: string; digest?: string } {
  const [withoutDigest, digest] = image.split('@') as [string, string | undefined];
  const slash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  if (colon > slash) return { name: withoutDigest.slice(0, colon), tag: withoutDigest.slice(colon + 1), ...(digest ? { digest } : {}) };
  return { name: withoutDigest, ...(digest ? { digest } : {}) };
}

function setImage(o: K8sObject, entry: ImageEntry): K8sObject {
  const copy = structuredClone(o);
  for (const podSpec of podSpecs(copy)) {
    for (const container of [...(podSpec.containers ?? []), ...(podSpec.initContainers ?? [])]) {
      const current = parseImage(container.image);
      if (current.name !== entry.name) continue;
      const name = entry.newName ?? current.name;
      if (entry.digest) container.image = `${name}@${entry.digest}`;
      else if (entry.newTag) container.image = `${name}:${entry.newTag}`;
      else container.image = `${name}${current.tag ? `:${current.tag}` : ''}${current.digest ? `@${current.digest}` : ''}`;
    }
  }
  return copy;
}

// biome-ignore lint/suspicious/noExplicitAny: pod specs are read from untyped YAML.
type PodSpec = { containers?: any[]; initContainers?: any[] };

/** Pod specs of workload kinds (Pod, Deployment, StatefulSet, DaemonSet, Job, CronJob, ReplicaSet). */
export function podSpecs(o: K8sObject): PodSpec[] {
  if (o.kind === 'Pod') return o.spec ? [o.spec] : [];
  if (o.kind === 'CronJob') return o.spec?.jobTemplate?.spec?.template?.spec ? [o.spec.jobTemplate.spec.template.spec] : [];
  return o.spec?.template?.spec ? [o.spec.template.spec] : [];
}
