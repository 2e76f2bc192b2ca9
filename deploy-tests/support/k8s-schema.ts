import { apiGroup, type K8sObject, objectId } from './manifest.js';

/**
 * Validates built-in Kubernetes objects against the OpenAPI schemas of the Kubernetes API, as compiled by
 * `kubernetes-models` (one model class per apiVersion/kind; `validate()` runs an ajv validator generated
 * from the Kubernetes OpenAPI spec: types, enums, formats, required fields).
 *
 * Why this package: it installs from the npm registry alone (no schema download at test time, unlike
 * kubeconform-style tools or `kubernetes-json-schema` repositories, which are not on npm), validates at
 * run time (`kubernetes-types` is TypeScript types only), and its 4.x line supports Node 20 (5.x declares
 * Node >= 22). Limitation, shared with kubectl's client-side validation: the Kubernetes schemas allow
 * unknown fields, so a misspelt optional field is not caught here; the policy checks in checks.ts
 * read the fields that matter by name and fail when they are missing.
 */
export const SCHEMA_GROUPS = new Set(['', 'apps', 'autoscaling', 'policy', 'networking.k8s.io', 'rbac.authorization.k8s.io', 'batch']);

/**
 * The served, non-deprecated versions we allow. kubernetes-models also ships long-removed versions
 * (apps/v1beta1, autoscaling/v2beta2, ...), which a current cluster rejects: refuse them here.
 */
export const CURRENT_API_VERSIONS = new Set([
  'v1',
  'apps/v1',
  'autoscaling/v2',
  'policy/v1',
  'networking.k8s.io/v1',
  'rbac.authorization.k8s.io/v1',
  'batch/v1',
]);

/** True for objects of API groups this module validates (the others are custom resources). */
export const isBuiltIn = (o: K8sObject): boolean => SCHEMA_GROUPS.has(apiGroup(o.apiVersion));

interface Model {
  validate(): void;
}
type ModelClass = new (data: unknown) => Model;

const modules = new Map<string, Record<string, unknown>>();

async function modelClass(apiVersion: string, kind: string): Promise<ModelClass | undefined> {
  if (!CURRENT_API_VERSIONS.has(apiVersion)) return undefined;
  // kubernetes-models/<group>/<version> (the core group is just <version>), e.g. kubernetes-models/apps/v1.
  const specifier = `kubernetes-models/${apiVersion}`;
  let loaded = modules.get(specifier);
  if (!loaded) {
    loaded = (await import(specifier)) as Record<string, unknown>;
    modules.set(specifier, loaded);
  }
  const exported = loaded[kind];
  return typeof exported === 'function' ? (exported as ModelClass) : undefined;
}

/**
 * Schema problems of one built-in object (empty when valid); an unknown or retired apiVersion/kind is a
 * problem. Call it for one object at a time (await each): concurrent first imports of several
 * kubernetes-models entry points race inside Jest's ESM loader.
 */
export async function schemaProblems(o: K8sObject): Promise<string[]> {
  const Model = await modelClass(o.apiVersion, o.kind);
  if (!Model) return [`${objectId(o)}: ${o.apiVersion} ${o.kind} is not a current Kubernetes API kind`];
  try {
    new Model(o).validate();
    return [];
  } catch (error) {
    return [`${objectId(o)}: ${(error as Error).message}`];
  }
}
