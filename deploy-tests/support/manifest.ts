import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

/** A Kubernetes-style object as parsed from YAML (plain JSON data). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: manifests are untyped YAML; checks narrow what they read.
  [field: string]: any;
}

/** Where an object came from, for error messages. */
export const objectId = (o: Pick<K8sObject, 'kind' | 'metadata'>): string =>
  `${o.kind}/${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name ?? '<unnamed>'}`;

/**
 * Parses every YAML document of a file, failing on any YAML error or warning (duplicate keys, bad
 * indentation, tabs): the `yaml` package is stricter than kubectl's parser, which is the point.
 */
export function parseYamlFile(path: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(path, 'utf8'), { prettyErrors: true, uniqueKeys: true });
  if (!Array.isArray(docs)) throw new Error(`${path}: not a YAML stream`);
  const values: unknown[] = [];
  for (const doc of docs) {
    const problems = [...doc.errors, ...doc.warnings];
    if (problems.length > 0) throw new Error(`${path}: ${problems.map((p) => p.message).join('; ')}`);
    const value = doc.toJS({ maxAliasCount: 0 });
    if (value !== null && value !== undefined) values.push(value);
  }
  return values;
}

/** Parses a manifest file whose documents must all be Kubernetes-style objects. */
export function readObjects(path: string): K8sObject[] {
  return parseYamlFile(path).map((value, index) => {
    const o = value as Partial<K8sObject>;
    if (
      typeof o !== 'object' ||
      !o ||
      typeof o.apiVersion !== 'string' ||
      typeof o.kind !== 'string' ||
      typeof o.metadata?.name !== 'string'
    ) {
      throw new Error(`${path}: document ${index + 1} is not an object with apiVersion, kind and metadata.name`);
    }
    return o as K8sObject;
  });
}

/** The API group of an apiVersion (`''` for the core group). */
export const apiGroup = (apiVersion: string): string => (apiVersion.includes('/') ? apiVersion.split('/')[0]! : '');
