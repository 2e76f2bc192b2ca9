import { ALL_SERVICES, GATEWAY_SERVICE, SUBGRAPH_NAMES, SUBGRAPH_SERVICES } from '@taskgraph/runtime';
import type { K8sObject } from './manifest.js';

/**
 * Where the deployment files must agree with the service registry (`packages/runtime/src/services.ts`):
 * the set of app-ids, each app's port, and the gateway's `SUBGRAPH_<NAME>_URL` for every subgraph.
 * Per-app details (probes, secrets, Services) are `workload-checks.ts` and `dapr-checks.ts`.
 */

const registryIds = (): string[] => ALL_SERVICES.map((s) => s.appId).sort();
const sameSet = (a: readonly string[], b: readonly string[]) => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());

/** The gateway's subgraph URL variables in `env` against `url(host, port)` for each registered subgraph. */
function subgraphUrlProblems(where: string, env: Record<string, unknown>, host: (appId: string) => string): string[] {
  const problems: string[] = [];
  for (const name of SUBGRAPH_NAMES) {
    const { urlEnv, appId, port } = SUBGRAPH_SERVICES[name];
    const expected = `http://${host(appId)}:${port}/graphql`;
    if (env[urlEnv] !== expected) problems.push(`${where}: env ${urlEnv} must be ${expected} (got ${JSON.stringify(env[urlEnv])})`);
  }
  const known = new Set<string>(SUBGRAPH_NAMES.map((n) => SUBGRAPH_SERVICES[n].urlEnv));
  for (const key of Object.keys(env))
    if (/^SUBGRAPH_\w+_URL$/.test(key) && !known.has(key)) problems.push(`${where}: env ${key} names no registered subgraph`);
  return problems;
}

/** `dapr/dapr.yaml` (multi-app run): app-ids, ports and the gateway's subgraph URLs on 127.0.0.1. */
export function daprRunRegistryProblems(
  // biome-ignore lint/suspicious/noExplicitAny: the run file is untyped YAML.
  run: any,
): string[] {
  const apps: { appID: string; appPort?: number; env?: Record<string, unknown> }[] = run?.apps ?? [];
  const problems: string[] = [];
  if (
    !sameSet(
      apps.map((a) => a.appID),
      registryIds(),
    )
  )
    problems.push(`dapr.yaml: app-ids ${apps.map((a) => a.appID).join(', ')} must be the registry's ${registryIds().join(', ')}`);
  for (const service of ALL_SERVICES) {
    const app = apps.find((a) => a.appID === service.appId);
    if (!app) continue;
    if (app.appPort !== service.port) problems.push(`dapr.yaml ${service.appId}: appPort ${app.appPort} must be ${service.port}`);
    const port = app.env?.PORT ?? run?.common?.env?.PORT;
    if (port !== String(service.port))
      problems.push(`dapr.yaml ${service.appId}: env PORT ${JSON.stringify(port)} must be "${service.port}"`);
  }
  const gateway = apps.find((a) => a.appID === GATEWAY_SERVICE.appId);
  if (gateway) problems.push(...subgraphUrlProblems('dapr.yaml gateway', { ...run?.common?.env, ...gateway.env }, () => '127.0.0.1'));
  return problems;
}

/** Rendered Kubernetes objects: Dapr-enabled Deployments, their app-port, Services, and the gateway's subgraph URLs via Services. */
export function k8sRegistryProblems(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  const deployments = objects.filter((o) => o.kind === 'Deployment' && o.spec?.template?.metadata?.annotations?.['dapr.io/app-id']);
  const appId = (d: K8sObject): string => d.spec.template.metadata.annotations['dapr.io/app-id'];
  if (!sameSet(deployments.map(appId), registryIds()))
    problems.push(`k8s: Dapr app-ids ${deployments.map(appId).join(', ')} must be the registry's ${registryIds().join(', ')}`);
  for (const service of ALL_SERVICES) {
    const d = deployments.find((x) => appId(x) === service.appId);
    if (!d) continue;
    const port = d.spec.template.metadata.annotations['dapr.io/app-port'];
    if (port !== String(service.port))
      problems.push(`k8s ${service.appId}: dapr.io/app-port ${JSON.stringify(port)} must be "${service.port}"`);
    if (d.metadata.name !== service.appId)
      problems.push(`k8s ${service.appId}: Deployment must be named ${service.appId} (got ${d.metadata.name})`);
    const svc = objects.find((o) => o.kind === 'Service' && o.metadata.name === service.appId);
    if (!svc?.spec?.ports?.some((p: { port?: number }) => p.port === service.port))
      problems.push(`k8s ${service.appId}: Service ${service.appId} must expose port ${service.port}`);
  }
  const gateway = deployments.find((d) => appId(d) === GATEWAY_SERVICE.appId);
  const container = gateway?.spec.template.spec.containers?.find((c: { name: string }) => c.name === GATEWAY_SERVICE.appId);
  if (container) {
    const env = Object.fromEntries((container.env ?? []).map((e: { name: string; value?: string }) => [e.name, e.value]));
    problems.push(...subgraphUrlProblems('k8s gateway', env, (id) => id));
  }
  return problems;
}
