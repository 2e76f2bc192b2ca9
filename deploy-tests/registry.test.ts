/**
 * The service registry (packages/runtime/src/services.ts) is the one place a service's name, port, Dapr
 * app-id and URL variable are written; the deployment files are checked against it here.
 */
import { GATEWAY_NODE_OPTIONS, SUBGRAPH_SERVICES } from '@taskgraph/runtime';
import { repoPath } from './support/apps.js';
import { renderKustomization } from './support/kustomize.js';
import { parseYamlFile } from './support/manifest.js';
import { daprRunRegistryProblems, k8sRegistryProblems } from './support/registry-checks.js';

// biome-ignore lint/suspicious/noExplicitAny: untyped YAML.
const daprRun = (): any => parseYamlFile(repoPath('dapr', 'dapr.yaml'))[0];

describe('dapr/dapr.yaml agrees with the service registry', () => {
  it('runs exactly the registry apps on their ports, and points the gateway at each subgraph', () => {
    expect(daprRunRegistryProblems(daprRun())).toEqual([]);
  });

  it('reports drift: a moved port, a missing app, a wrong subgraph URL', () => {
    const run = daprRun();
    run.apps.find((a: { appID: string }) => a.appID === 'notifications').appPort = 5003;
    run.apps = run.apps.filter((a: { appID: string }) => a.appID !== 'audit');
    run.apps.find((a: { appID: string }) => a.appID === 'gateway').env.SUBGRAPH_SYNC_URL = 'http://127.0.0.1:9/graphql';
    const problems = daprRunRegistryProblems(run);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('app-ids'),
        `dapr.yaml notifications: appPort 5003 must be ${SUBGRAPH_SERVICES.notifications.port}`,
        expect.stringContaining('env SUBGRAPH_SYNC_URL must be'),
      ]),
    );
  });
});

describe.each(['minikube', 'cloud'])('k8s/overlays/%s agrees with the service registry', (overlay) => {
  const objects = renderKustomization(repoPath('k8s', 'overlays', overlay));

  it('deploys exactly the registry apps (app-id, app-port, Service port) and points the gateway at each subgraph', () => {
    expect(k8sRegistryProblems(objects)).toEqual([]);
  });

  it('starts the gateway with its heap flags (GATEWAY_NODE_OPTIONS), as the launcher does', () => {
    const gateway = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'gateway')!;
    const env: { name: string; value?: string }[] = gateway.spec.template.spec.containers.find(
      (c: { name: string }) => c.name === 'gateway',
    ).env;
    const nodeOptions = env.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
    expect(nodeOptions.split(/\s+/)).toEqual(expect.arrayContaining(GATEWAY_NODE_OPTIONS.split(' ')));
  });

  it('reports drift in the gateway’s subgraph URLs and an app-port', () => {
    const copy = structuredClone(objects);
    const tasks = copy.find((o) => o.kind === 'Deployment' && o.metadata.name === 'tasks')!;
    tasks.spec.template.metadata.annotations['dapr.io/app-port'] = '5001';
    const gateway = copy.find((o) => o.kind === 'Deployment' && o.metadata.name === 'gateway')!;
    const env = gateway.spec.template.spec.containers.find((c: { name: string }) => c.name === 'gateway').env;
    env.find((e: { name: string }) => e.name === 'SUBGRAPH_AUDIT_URL').value = 'http://audit:4999/graphql';
    expect(k8sRegistryProblems(copy)).toEqual(
      expect.arrayContaining([
        `k8s tasks: dapr.io/app-port "5001" must be "${SUBGRAPH_SERVICES.tasks.port}"`,
        expect.stringContaining('env SUBGRAPH_AUDIT_URL must be'),
      ]),
    );
  });
});
