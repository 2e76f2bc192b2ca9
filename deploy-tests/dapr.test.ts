import { readdirSync } from 'node:fs';
import { APPS, repoPath } from './support/apps.js';
import { daprComponentProblems, daprRunFileProblems, pubsubRoles, resiliencyProblems } from './support/dapr-checks.js';
import { renderKustomization } from './support/kustomize.js';
import { type K8sObject, parseYamlFile, readObjects } from './support/manifest.js';

const local: K8sObject[] = readdirSync(repoPath('dapr', 'components-local'))
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => readObjects(repoPath('dapr', 'components-local', f)));
const kubernetes = renderKustomization(repoPath('dapr', 'components'));

describe('dapr/components-local (dapr run -f dapr)', () => {
  it('configures the same pub/sub components for a local Kafka, without Kubernetes-only features', () => {
    expect(daprComponentProblems(local, APPS, { selfHosted: true })).toEqual([]);
    const brokers = local
      .filter((c) => c.spec.type === 'pubsub.kafka')
      .map((c) => c.spec.metadata.find((m: { name: string }) => m.name === 'brokers')?.value);
    expect(new Set(brokers)).toEqual(new Set(['localhost:9092']));
  });

  it('has the same component names and scopes as the Kubernetes components', () => {
    const shape = (objects: K8sObject[]) =>
      objects
        .filter((o) => o.kind === 'Component' && o.spec.type.startsWith('pubsub.'))
        .map((o) => ({ name: o.metadata.name, type: o.spec.type, scopes: o.scopes }))
        .sort((a, b) => a.name.localeCompare(b.name));
    expect(shape(local)).toEqual(shape(kubernetes));
  });

  it('applies the same resiliency policies as Kubernetes', () => {
    const spec = (objects: K8sObject[]) => objects.find((o) => o.kind === 'Resiliency')?.spec;
    expect(resiliencyProblems(local, APPS)).toEqual([]);
    expect(spec(local)).toEqual(spec(kubernetes));
  });
});

describe('dapr/dapr.yaml (multi-app run)', () => {
  it('starts every app on its port, from its workspace, with the dapr event bus', () => {
    const [run] = parseYamlFile(repoPath('dapr', 'dapr.yaml'));
    const broadcast = pubsubRoles(kubernetes).broadcast!;
    expect(broadcast).toBeDefined();
    expect(daprRunFileProblems(run, repoPath('dapr'), APPS, broadcast.metadata.name)).toEqual([]);
  });
});
