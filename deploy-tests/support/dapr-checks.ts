import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { AppSpec } from './apps.js';
import { type K8sObject, objectId } from './manifest.js';

/**
 * Structural checks on Dapr resources (Component, Resiliency) and the multi-app run file. Dapr's CRDs are
 * not on npm either; these checks encode the parts of the Dapr contract the apps rely on (docs/ARCHITECTURE.md §5).
 */

const DAPR = 'dapr.io/v1alpha1';
/** Dapr duration strings as used in resiliency specs (Go time.ParseDuration subset). */
const DURATION = /^(\d+(\.\d+)?(ms|s|m|h))+$/;

interface MetadataItem {
  name?: string;
  value?: unknown;
  secretKeyRef?: { name?: string; key?: string };
}

const components = (objects: K8sObject[]) => objects.filter((o) => o.apiVersion === DAPR && o.kind === 'Component');
const meta = (c: K8sObject): Map<string, MetadataItem> =>
  new Map(((c.spec?.metadata ?? []) as MetadataItem[]).map((m) => [String(m.name), m]));

/** The Kafka pub/sub components: `pubsub` (group per app) and the one scoped to sync (group per pod). */
export function pubsubRoles(objects: K8sObject[]): { shared?: K8sObject; broadcast?: K8sObject } {
  const kafka = components(objects).filter((c) => c.spec?.type === 'pubsub.kafka');
  return {
    shared: kafka.find((c) => meta(c).get('consumerGroup')?.value === '{appID}'),
    broadcast: kafka.find((c) => !meta(c).has('consumerGroup') && meta(c).get('consumerID')?.value === '{podName}'),
  };
}

/**
 * Components: well-formed metadata, scopes naming real apps, Kafka settings the consumers rely on, and
 * (in Kubernetes) secretKeyRefs that point at Secrets of the render. `selfHosted` relaxes the parts that
 * only exist in Kubernetes ({podName}, secret stores).
 */
export function daprComponentProblems(objects: K8sObject[], apps: readonly AppSpec[], options: { selfHosted: boolean }): string[] {
  const problems: string[] = [];
  const appIds = apps.map((a) => a.id);
  const all = components(objects);
  for (const c of all) {
    const id = objectId(c);
    if (typeof c.spec?.type !== 'string' || c.spec?.version !== 'v1') problems.push(`${id}: spec.type and spec.version v1 are required`);
    for (const m of (c.spec?.metadata ?? []) as MetadataItem[]) {
      if (!m.name || (m.value === undefined) === (m.secretKeyRef === undefined))
        problems.push(`${id}: metadata ${m.name} needs a name and exactly one of value / secretKeyRef`);
      if (m.secretKeyRef) {
        if (options.selfHosted)
          problems.push(`${id}: metadata ${m.name} uses secretKeyRef, but no secret store is configured for dapr run`);
        const secret = objects.find((o) => o.kind === 'Secret' && o.metadata.name === m.secretKeyRef?.name);
        if (secret && !(m.secretKeyRef.key! in { ...secret.data, ...secret.stringData }))
          problems.push(`${id}: Secret ${m.secretKeyRef.name} has no key ${m.secretKeyRef.key}`);
      }
    }
    const scopes: string[] = c.scopes ?? [];
    if (scopes.length === 0) problems.push(`${id}: scopes must list the apps that load it`);
    for (const s of scopes) if (!appIds.includes(s)) problems.push(`${id}: scope ${s} is not an app id`);
    if (c.spec?.type === 'pubsub.kafka') {
      const m = meta(c);
      for (const key of ['brokers', 'authType']) if (!m.has(key)) problems.push(`${id}: pubsub.kafka needs ${key}`);
      if (m.get('initialOffset')?.value !== 'oldest')
        problems.push(`${id}: initialOffset must be "oldest" (a new consumer group must not skip retained events)`);
    }
  }
  const { shared, broadcast } = pubsubRoles(objects);
  if (!shared) problems.push('no pubsub.kafka component with consumerGroup "{appID}"');
  else if (shared.metadata.name !== 'pubsub') problems.push(`${objectId(shared)}: must be named "pubsub" (DAPR_PUBSUB_NAME default)`);
  if (options.selfHosted) {
    // No pod names outside Kubernetes; one sync process still needs its own group.
    const local = components(objects).find((c) => c.scopes?.length === 1 && c.scopes[0] === 'sync' && c.spec?.type === 'pubsub.kafka');
    if (!local) problems.push('no pubsub.kafka component scoped to sync only');
  } else {
    if (!broadcast) problems.push('no pubsub.kafka component with consumerID "{podName}" (and no consumerGroup) for sync');
    else if (JSON.stringify(broadcast.scopes) !== JSON.stringify(['sync']))
      problems.push(`${objectId(broadcast)}: must be scoped to sync only`);
    if (!all.some((c) => c.spec?.type === 'secretstores.kubernetes')) problems.push('no secretstores.kubernetes component');
  }
  // Subscriptions are programmatic (GET /dapr/subscribe); declarative ones would double-subscribe.
  for (const o of objects)
    if (o.apiVersion.startsWith('dapr.io/') && o.kind === 'Subscription')
      problems.push(`${objectId(o)}: declarative subscriptions are not used`);
  return problems;
}

/** Resiliency: every target names a defined policy, an app id or a component of the render. */
export function resiliencyProblems(objects: K8sObject[], apps: readonly AppSpec[]): string[] {
  const list = objects.filter((o) => o.apiVersion === DAPR && o.kind === 'Resiliency');
  if (list.length === 0) return ['no Dapr Resiliency resource'];
  const problems: string[] = [];
  const componentNames = components(objects).map((c) => c.metadata.name);
  for (const r of list) {
    const id = objectId(r);
    const policies = r.spec?.policies ?? {};
    for (const [name, value] of Object.entries<string>(policies.timeouts ?? {}))
      if (!DURATION.test(value)) problems.push(`${id}: timeout ${name}=${value} is not a duration`);
    for (const [name, retry] of Object.entries<Record<string, unknown>>(policies.retries ?? {})) {
      if (retry.policy !== 'exponential' && retry.policy !== 'constant')
        problems.push(`${id}: retry ${name} policy must be exponential or constant`);
      if (retry.policy === 'exponential' && !DURATION.test(String(retry.maxInterval)))
        problems.push(`${id}: retry ${name} needs maxInterval`);
      if (!Number.isInteger(retry.maxRetries)) problems.push(`${id}: retry ${name} needs an integer maxRetries`);
    }
    for (const [name, cb] of Object.entries<Record<string, unknown>>(policies.circuitBreakers ?? {})) {
      if (typeof cb.trip !== 'string' || !DURATION.test(String(cb.timeout)))
        problems.push(`${id}: circuit breaker ${name} needs trip and timeout`);
    }
    const checkRefs = (where: string, ref: Record<string, string> | undefined) => {
      for (const [kind, key] of [
        ['timeout', 'timeouts'],
        ['retry', 'retries'],
        ['circuitBreaker', 'circuitBreakers'],
      ] as const) {
        const name = ref?.[kind];
        if (name !== undefined && !(name in (policies[key] ?? {}))) problems.push(`${id}: ${where} ${kind} "${name}" is not defined`);
      }
    };
    const targets = r.spec?.targets ?? {};
    if (!targets.apps && !targets.components) problems.push(`${id}: no targets`);
    for (const [app, ref] of Object.entries<Record<string, string>>(targets.apps ?? {})) {
      if (!apps.some((a) => a.id === app)) problems.push(`${id}: target app ${app} is not an app id`);
      checkRefs(`app ${app}`, ref);
    }
    for (const [component, ref] of Object.entries<Record<string, Record<string, string>>>(targets.components ?? {})) {
      if (!componentNames.includes(component)) problems.push(`${id}: target component ${component} does not exist`);
      checkRefs(`component ${component} outbound`, ref.outbound);
      checkRefs(`component ${component} inbound`, ref.inbound);
    }
    const { shared } = pubsubRoles(objects);
    if (shared && !targets.components?.[shared.metadata.name]?.inbound?.retry)
      problems.push(`${id}: the pubsub component needs an inbound retry (bounded, then dead letter)`);
  }
  return problems;
}

/** The multi-app run file (dapr/dapr.yaml): every app, its port, workspace, command and the dapr bus. */
export function daprRunFileProblems(
  // biome-ignore lint/suspicious/noExplicitAny: the run file is untyped YAML.
  run: any,
  runFileDir: string,
  apps: readonly AppSpec[],
  broadcastPubsub: string,
): string[] {
  const problems: string[] = [];
  if (run?.version !== 1) problems.push('dapr.yaml: version must be 1');
  // resourcesPaths (a list); the older resourcesPath is deprecated in run files.
  const resources: unknown = run?.common?.resourcesPaths;
  if (!Array.isArray(resources) || resources.length === 0)
    problems.push('dapr.yaml: common.resourcesPaths must list the self-hosted resources');
  else
    for (const path of resources)
      if (!existsSync(resolve(runFileDir, String(path)))) problems.push(`dapr.yaml: resources path ${path} does not exist`);
  // The CLI reads env into map[string]string: quote numbers so every value is a YAML string.
  for (const env of [run?.common?.env, ...(run?.apps ?? []).map((a: { env?: unknown }) => a.env)]) {
    for (const [key, value] of Object.entries((env ?? {}) as Record<string, unknown>))
      if (typeof value !== 'string') problems.push(`dapr.yaml: env ${key} must be a string`);
  }
  const entries: { appID: string; appPort?: number; appDirPath?: string; command?: string[]; env?: Record<string, unknown> }[] =
    run?.apps ?? [];
  const ids = entries.map((e) => e.appID);
  if (JSON.stringify([...ids].sort()) !== JSON.stringify(apps.map((a) => a.id).sort()))
    problems.push(`dapr.yaml: apps ${ids.join(', ')} must be exactly ${apps.map((a) => a.id).join(', ')}`);
  for (const e of entries) {
    const app = apps.find((a) => a.id === e.appID);
    if (!app) continue;
    const env = { ...run.common?.env, ...e.env };
    if (e.appPort !== app.port) problems.push(`dapr.yaml ${e.appID}: appPort ${e.appPort} must be ${app.port}`);
    if (env.PORT !== undefined && Number(env.PORT) !== app.port)
      problems.push(`dapr.yaml ${e.appID}: env PORT ${env.PORT} must be ${app.port}`);
    if (resolve(runFileDir, e.appDirPath ?? '') !== resolve(runFileDir, '..', app.workspace))
      problems.push(`dapr.yaml ${e.appID}: appDirPath must be the ${app.workspace} workspace`);
    if (JSON.stringify(e.command) !== JSON.stringify(['node', 'dist/index.js']))
      problems.push(`dapr.yaml ${e.appID}: command must be ["node", "dist/index.js"]`);
    if (env.EVENT_BUS !== 'dapr') problems.push(`dapr.yaml ${e.appID}: env EVENT_BUS must be dapr`);
    if (e.appID === 'sync' && env.DAPR_PUBSUB_NAME !== broadcastPubsub)
      problems.push(`dapr.yaml sync: env DAPR_PUBSUB_NAME must be ${broadcastPubsub}`);
  }
  return problems;
}

/** Which pub/sub component each app's Deployment uses (env DAPR_PUBSUB_NAME) matches the components' scopes. */
export function pubsubWiringProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const pubsubs = components(objects).filter((c) => c.spec?.type?.startsWith('pubsub.'));
  const { broadcast } = pubsubRoles(objects);
  for (const d of objects.filter(
    (o) => o.kind === 'Deployment' && o.spec?.template?.metadata?.annotations?.['dapr.io/enabled'] === 'true',
  )) {
    const appId = d.spec.template.metadata.annotations['dapr.io/app-id'];
    const env: { name: string; value?: string }[] = d.spec.template.spec?.containers?.[0]?.env ?? [];
    const name = env.find((e) => e.name === 'DAPR_PUBSUB_NAME')?.value ?? 'pubsub';
    const scoped = pubsubs.filter((c) => (c.scopes ?? []).includes(appId));
    if (scoped.length === 0) continue; // e.g. the gateway uses no pub/sub
    const used = pubsubs.find((c) => c.metadata.name === name);
    if (!used) problems.push(`${objectId(d)}: DAPR_PUBSUB_NAME=${name} names no pub/sub component`);
    else if (!(used.scopes ?? []).includes(appId)) problems.push(`${objectId(d)}: pub/sub component ${name} is not scoped to ${appId}`);
    if (appId === 'sync' && broadcast && name !== broadcast.metadata.name)
      problems.push(`${objectId(d)}: sync must use ${broadcast.metadata.name} so every replica gets every update`);
  }
  return problems;
}
