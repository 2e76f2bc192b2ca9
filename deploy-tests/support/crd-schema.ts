import { readFileSync } from 'node:fs';
import AjvModule, { type ValidateFunction } from 'ajv';
import { repoPath } from './apps.js';
import { apiGroup, type K8sObject, objectId } from './manifest.js';

/**
 * Validates custom resources against the operators' own CRD schemas, vendored from the releases
 * docs/DEPLOY.md installs (deploy-tests/crds/*.json, refreshed with extract-schemas.mjs there): Strimzi
 * 1.2.0 (`kafka.strimzi.io/v1`) and Dapr 1.18.3 (`dapr.io/v1alpha1` Component and Resiliency).
 *
 * As the API server does with server-side field validation (kubectl's default), a field the schema does
 * not declare is an error unless the schema preserves unknown fields; `x-kubernetes-int-or-string` accepts
 * both; formats are not checked (the API server checks few of them).
 */
const VENDORED = ['strimzi-1.2.0.json', 'dapr-1.18.3.json'];

type Schema = Record<string, unknown>;
// ajv is CommonJS: under NodeNext its default import is the module object, whose `default` is the class.
const Ajv = ((AjvModule as unknown as { default?: typeof AjvModule.default }).default ?? AjvModule) as typeof AjvModule.default;
const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });

const schemas = new Map<string, Schema>();
for (const file of VENDORED) {
  const entries = JSON.parse(readFileSync(repoPath('deploy-tests', 'crds', file), 'utf8')) as Record<string, { schema: Schema }>;
  for (const [key, { schema }] of Object.entries(entries)) schemas.set(key, schema);
}
/** API groups whose kinds are validated here; any other version or kind in them is not served. */
const GROUPS = new Set([...schemas.keys()].map((key) => apiGroup(key.split(' ')[0]!)));
const compiled = new Map<string, ValidateFunction>();

/** Kubernetes structural-schema semantics expressed in JSON Schema. */
function structural(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(structural);
  if (node === null || typeof node !== 'object') return node;
  const schema: Schema = {};
  for (const [key, value] of Object.entries(node))
    schema[key] = key === 'enum' || key === 'default' || key === 'example' ? value : structural(value);
  if (schema['x-kubernetes-int-or-string'] === true) {
    delete schema.type;
    schema.anyOf = [{ type: 'integer' }, { type: 'string' }];
  }
  // metadata is validated by the API server's own ObjectMeta rules, not by the CRD schema.
  if (
    schema.properties &&
    typeof schema.properties === 'object' &&
    'metadata' in (schema.properties as Schema) &&
    'apiVersion' in (schema.properties as Schema)
  ) {
    (schema.properties as Schema).metadata = { type: 'object' };
  }
  if (
    schema.type === 'object' &&
    schema.properties &&
    schema['x-kubernetes-preserve-unknown-fields'] !== true &&
    schema.additionalProperties === undefined
  ) {
    schema.additionalProperties = false;
  }
  return schema;
}

/** True for custom resources of the vendored operators. */
export const hasVendoredCrd = (o: K8sObject): boolean => GROUPS.has(apiGroup(o.apiVersion));

/** Problems of one custom resource against its operator's CRD schema (empty when valid). */
export function crdSchemaProblems(o: K8sObject): string[] {
  const key = `${o.apiVersion} ${o.kind}`;
  const schema = schemas.get(key);
  if (!schema) return [`${objectId(o)}: ${key} is not served by the installed operator's CRDs (${VENDORED.join(', ')})`];
  const validate: ValidateFunction = compiled.get(key) ?? ajv.compile(structural(schema) as Schema);
  compiled.set(key, validate);
  if (validate(o)) return [];
  return (validate.errors ?? []).map((e) => {
    const extra = e.keyword === 'additionalProperties' ? ` (${(e.params as { additionalProperty: string }).additionalProperty})` : '';
    return `${objectId(o)}: ${e.instancePath || '/'} ${e.message}${extra}`;
  });
}
