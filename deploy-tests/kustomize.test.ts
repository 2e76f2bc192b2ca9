import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { repoPath } from './support/apps.js';
import { renderKustomization } from './support/kustomize.js';
import { type K8sObject, objectId } from './support/manifest.js';

const fixture = (...parts: string[]) => repoPath('deploy-tests', 'fixtures', 'kustomize', ...parts);
const byId = (objects: K8sObject[]) => new Map(objects.map((o) => [`${o.apiVersion} ${objectId(o)}`, o]));

describe('the kustomize renderer used by the deploy tests', () => {
  it('renders the fixture overlay exactly like kubectl kustomize (recorded output)', () => {
    const recorded = parseAllDocuments(readFileSync(fixture('expected.yaml'), 'utf8')).map((d) => d.toJS() as K8sObject);
    const rendered = renderKustomization(fixture('overlay'));
    const expected = byId(recorded);
    const actual = byId(rendered);
    expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [id, object] of expected) expect({ id, object: actual.get(id) }).toEqual({ id, object });
  });

  it('refuses kustomization fields it does not implement', () => {
    expect(() => renderKustomization(fixture('unsupported-field'))).toThrow(/unsupported kustomization fields configMapGenerator/);
  });

  it('generates Secrets from literals and env files (a missing env file is read from its .example), namespaced', () => {
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    expect(renderKustomization(fixture('secret-generator'))).toEqual([
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'literal-secret', namespace: 'demo' },
        type: 'Opaque',
        data: { user: b64('alice'), url: b64('postgres://a:b@host:5432/db?x=1') },
      },
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'env-secret', namespace: 'demo' },
        type: 'Opaque',
        data: { token: b64('example-value') },
      },
    ]);
  });

  it('refuses a secretGenerator whose name kustomize would suffix with a hash', () => {
    expect(() => renderKustomization(fixture('secret-generator-hashed'))).toThrow(/disableNameSuffixHash/);
  });

  it('refuses a patch that matches nothing', () => {
    expect(() => renderKustomization(fixture('unmatched-patch'))).toThrow(/matches no object/);
  });

  it('refuses files outside the kustomization directory (kustomize load restrictor)', () => {
    expect(() => renderKustomization(fixture('outside-root'))).toThrow(/is not in or below/);
  });

  it.each(['minikube', 'cloud'])('renders k8s/overlays/%s', (overlay) => {
    const objects = renderKustomization(repoPath('k8s', 'overlays', overlay));
    expect(
      objects
        .filter((o) => o.kind === 'Deployment')
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['audit', 'gateway', 'notifications', 'sync', 'tasks']);
  });
});
