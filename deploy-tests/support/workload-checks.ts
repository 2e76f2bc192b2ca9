import type { AppSpec } from './apps.js';
import { adminPortOf } from './exposure-checks.js';
import { parseImage, podSpecs } from './kustomize.js';
import { type K8sObject, objectId } from './manifest.js';

/**
 * Policy checks on rendered Kubernetes workloads. Each returns human-readable problems (empty = fine), so
 * the same function runs on the real manifests (expect no problems) and on broken fixtures (expect the
 * specific problem).
 */

// biome-ignore lint/suspicious/noExplicitAny: container specs are untyped YAML.
type Container = any;

const find = (objects: K8sObject[], kind: string, name: string): K8sObject | undefined =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);

/** Env var names that must come from a Secret, never an inline `value`. */
const SECRET_ENV = /(SECRET|PASSWORD|TOKEN|CREDENTIALS|PRIVATE_KEY|DATABASE_URL)$/;

/** Resolves a probe/targetPort (number or container port name) to a number. */
function resolvePort(port: unknown, container: Container): number | undefined {
  if (typeof port === 'number') return port;
  return container?.ports?.find((p: { name?: string }) => p.name === port)?.containerPort;
}

/** Dapr annotations, probes, ports, env and secrets of one app's Deployment. */
export function appDeploymentProblems(objects: K8sObject[], app: AppSpec): string[] {
  const d = find(objects, 'Deployment', app.id);
  if (!d) return [`Deployment/${app.id}: missing`];
  const id = objectId(d);
  const problems: string[] = [];
  const annotations: Record<string, string> = d.spec?.template?.metadata?.annotations ?? {};
  const expectAnnotation = (key: string, value: string) => {
    if (annotations[key] !== value)
      problems.push(`${id}: pod annotation ${key} must be "${value}" (got ${JSON.stringify(annotations[key])})`);
  };
  expectAnnotation('dapr.io/enabled', 'true');
  expectAnnotation('dapr.io/app-id', app.id);
  expectAnnotation('dapr.io/app-port', String(app.port));
  expectAnnotation('dapr.io/enable-app-health-check', 'true');

  const containers: Container[] = d.spec?.template?.spec?.containers ?? [];
  const c = containers.find((x) => x.name === app.id);
  if (!c) return [...problems, `${id}: no container named ${app.id}`];
  if (!c.ports?.some((p: { containerPort?: number }) => p.containerPort === app.port))
    problems.push(`${id}: container does not expose port ${app.port}`);
  for (const [probe, path] of [
    ['livenessProbe', '/healthz'],
    ['readinessProbe', '/readyz'],
  ] as const) {
    const get = c[probe]?.httpGet;
    if (!get) problems.push(`${id}: ${probe} must be an httpGet probe`);
    else {
      if (get.path !== path) problems.push(`${id}: ${probe} path must be ${path} (got ${get.path})`);
      if (resolvePort(get.port, c) !== adminPortOf(app))
        problems.push(`${id}: ${probe} must target the admin port ${adminPortOf(app)} (got ${get.port})`);
    }
  }

  const env: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name?: string; key?: string } } }[] = c.env ?? [];
  const byName = new Map(env.map((e) => [e.name, e]));
  const expectValue = (name: string, value: string) => {
    if (byName.get(name)?.value !== value)
      problems.push(`${id}: env ${name} must be "${value}" (got ${JSON.stringify(byName.get(name)?.value)})`);
  };
  expectValue('EVENT_BUS', 'dapr');
  expectValue('PORT', String(app.port));
  // The runtime defaults HOST to 127.0.0.1; kubelet probes reach the pod IP.
  expectValue('HOST', '0.0.0.0');
  const secrets = ['INTERNAL_TOKEN_SECRET', ...(app.database ? ['DATABASE_URL'] : []), ...(app.id === 'gateway' ? ['JWT_SECRET'] : [])];
  for (const name of secrets) {
    const ref = byName.get(name)?.valueFrom?.secretKeyRef;
    if (!ref?.name || !ref.key) problems.push(`${id}: env ${name} must come from a Secret (valueFrom.secretKeyRef)`);
  }
  // Dapr app API token: daprd sends the `token` key of this Secret in `dapr-api-token`; the app
  // checks it (APP_API_TOKEN) on /dapr/subscribe, /events/<topic> and /job/<name>.
  const tokenSecret = annotations['dapr.io/app-token-secret'];
  if (!tokenSecret) problems.push(`${id}: pod annotation dapr.io/app-token-secret must name the app API token Secret`);
  else {
    const ref = byName.get('APP_API_TOKEN')?.valueFrom?.secretKeyRef;
    if (ref?.name !== tokenSecret || ref.key !== 'token')
      problems.push(`${id}: env APP_API_TOKEN must come from Secret ${tokenSecret} key token (the one daprd sends)`);
  }
  for (const e of env) {
    if (SECRET_ENV.test(e.name) && e.value !== undefined)
      problems.push(`${id}: env ${e.name} has an inline value; use valueFrom.secretKeyRef`);
  }
  if (d.spec?.template?.spec?.securityContext?.runAsUser !== 10001 && c.securityContext?.runAsUser !== 10001) {
    problems.push(`${id}: must run as uid 10001 (the image's user)`);
  }
  return problems;
}

/** Security context, resources and a writable /tmp for every container of every workload. */
export function workloadSecurityProblems(o: K8sObject): string[] {
  const id = objectId(o);
  const problems: string[] = [];
  for (const pod of podSpecs(o)) {
    const podSc = (pod as { securityContext?: Record<string, unknown> }).securityContext ?? {};
    const volumes: { name: string; emptyDir?: unknown }[] = (pod as { volumes?: [] }).volumes ?? [];
    for (const c of [...(pod.initContainers ?? []), ...(pod.containers ?? [])] as Container[]) {
      const where = `${id} container ${c.name}`;
      const sc = c.securityContext ?? {};
      if ((sc.runAsNonRoot ?? podSc.runAsNonRoot) !== true) problems.push(`${where}: runAsNonRoot must be true`);
      if (sc.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation must be false`);
      if (sc.readOnlyRootFilesystem !== true) problems.push(`${where}: readOnlyRootFilesystem must be true`);
      if (!sc.capabilities?.drop?.includes('ALL')) problems.push(`${where}: capabilities must drop ALL`);
      const seccomp = (sc.seccompProfile ?? podSc.seccompProfile) as { type?: string } | undefined;
      if (seccomp?.type !== 'RuntimeDefault') problems.push(`${where}: seccompProfile must be RuntimeDefault`);
      for (const kind of ['requests', 'limits'] as const) {
        for (const resource of ['cpu', 'memory']) {
          if (c.resources?.[kind]?.[resource] === undefined) problems.push(`${where}: resources.${kind}.${resource} missing`);
        }
      }
      const tmp = c.volumeMounts?.find((m: { mountPath: string }) => m.mountPath === '/tmp');
      if (!tmp || !volumes.some((v) => v.name === tmp.name && v.emptyDir !== undefined)) {
        problems.push(`${where}: needs an emptyDir mounted at /tmp (the root filesystem is read-only)`);
      }
    }
  }
  return problems;
}

/** Every container image names an explicit tag (not latest, not the base's placeholder) or a digest. */
export function imageProblems(o: K8sObject): string[] {
  const problems: string[] = [];
  for (const pod of podSpecs(o)) {
    for (const c of [...(pod.initContainers ?? []), ...(pod.containers ?? [])] as Container[]) {
      const { tag, digest } = parseImage(String(c.image ?? ''));
      if (!digest && (!tag || tag === 'latest' || tag.includes('unset'))) {
        problems.push(`${objectId(o)} container ${c.name}: image ${c.image} needs an explicit tag (set by the overlay's images:)`);
      }
    }
  }
  return problems;
}

const selects = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean =>
  !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** Service, PodDisruptionBudget and (for autoscaled apps) HorizontalPodAutoscaler of one app. */
export function appServingProblems(objects: K8sObject[], app: AppSpec): string[] {
  const d = find(objects, 'Deployment', app.id);
  if (!d) return [`Deployment/${app.id}: missing`];
  const podLabels = d.spec?.template?.metadata?.labels;
  const container = d.spec?.template?.spec?.containers?.find((c: Container) => c.name === app.id);
  const problems: string[] = [];
  if (!selects(d.spec?.selector?.matchLabels, podLabels)) problems.push(`${objectId(d)}: selector does not match its pod labels`);

  const svc = find(objects, 'Service', app.id);
  if (!svc) problems.push(`Service/${app.id}: missing`);
  else {
    if (!selects(svc.spec?.selector, podLabels)) problems.push(`${objectId(svc)}: selector does not match the ${app.id} pods`);
    const port = svc.spec?.ports?.find((p: { port: number }) => p.port === app.port);
    if (!port) problems.push(`${objectId(svc)}: no port ${app.port}`);
    else if (resolvePort(port.targetPort ?? port.port, container) !== app.port)
      problems.push(`${objectId(svc)}: targetPort does not reach container port ${app.port}`);
  }

  const pdb = objects.find((o) => o.kind === 'PodDisruptionBudget' && selects(o.spec?.selector?.matchLabels, podLabels));
  if (!pdb) problems.push(`PodDisruptionBudget for ${app.id}: missing`);

  const hpa = objects.find((o) => o.kind === 'HorizontalPodAutoscaler' && o.spec?.scaleTargetRef?.name === app.id);
  if (app.autoscaled) {
    if (!hpa) problems.push(`HorizontalPodAutoscaler for ${app.id}: missing`);
    else {
      if (hpa.apiVersion !== 'autoscaling/v2') problems.push(`${objectId(hpa)}: must be autoscaling/v2`);
      if (hpa.spec.scaleTargetRef.kind !== 'Deployment') problems.push(`${objectId(hpa)}: must scale the Deployment`);
      if (!(hpa.spec.minReplicas >= 1 && hpa.spec.maxReplicas >= hpa.spec.minReplicas))
        problems.push(`${objectId(hpa)}: needs 1 <= minReplicas <= maxReplicas`);
      // An applied replicas count would reset the HPA's choice on every `kubectl apply`.
      if (d.spec?.replicas !== undefined) problems.push(`${objectId(d)}: sets spec.replicas although an HPA scales it`);
    }
  }
  return problems;
}

/** The gateway Ingress: routes to the gateway Service and keeps WebSockets open long enough. */
export function ingressProblems(objects: K8sObject[], gateway: AppSpec): string[] {
  const ingresses = objects.filter((o) => o.kind === 'Ingress');
  if (ingresses.length === 0) return ['Ingress for the gateway: missing'];
  const problems: string[] = [];
  for (const ing of ingresses) {
    const backends = (ing.spec?.rules ?? []).flatMap((r: { http?: { paths?: { backend?: { service?: unknown } }[] } }) =>
      (r.http?.paths ?? []).map((p) => p.backend?.service),
    ) as { name?: string; port?: { name?: string; number?: number } }[];
    const svc = find(objects, 'Service', gateway.id);
    const reachesGateway = backends.some(
      (b) =>
        b?.name === gateway.id &&
        svc?.spec?.ports?.some(
          (p: { name?: string; port: number }) =>
            (b.port?.name ? p.name === b.port.name : p.port === b.port?.number) && p.port === gateway.port,
        ),
    );
    if (!reachesGateway) problems.push(`${objectId(ing)}: no rule reaches Service ${gateway.id} port ${gateway.port}`);
    for (const key of ['nginx.ingress.kubernetes.io/proxy-read-timeout', 'nginx.ingress.kubernetes.io/proxy-send-timeout']) {
      const value = Number(ing.metadata.annotations?.[key]);
      if (!(value >= 3600)) problems.push(`${objectId(ing)}: annotation ${key} must be >= 3600 seconds for long-lived WebSockets`);
    }
  }
  return problems;
}

/** Every namespaced object lives in one namespace that the render also creates. */
export function namespaceProblems(objects: K8sObject[]): string[] {
  const namespaces = objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name);
  if (namespaces.length !== 1) return [`exactly one Namespace expected (got ${namespaces.join(', ') || 'none'})`];
  return objects
    .filter((o) => o.kind !== 'Namespace' && o.metadata.namespace !== namespaces[0])
    .map((o) => `${objectId(o)}: not in namespace ${namespaces[0]}`);
}
