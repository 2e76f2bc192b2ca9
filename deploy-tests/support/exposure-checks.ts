import { ADMIN_PATHS, ADMIN_PORT_OFFSET } from '@taskgraph/runtime';
import type { AppSpec } from './apps.js';
import { podSpecs } from './kustomize.js';
import { type K8sObject, objectId } from './manifest.js';

/**
 * Nothing internal on the public Ingress: health, readiness and metrics live on each app's admin port
 * (`ADMIN_PORT`, port + 5000), which the probes and Prometheus use and which no Ingress path or backend
 * may reach.
 */

/** The admin port of an app (the production default of `resolveAdminPort`, set explicitly in k8s/). */
export const adminPortOf = (app: AppSpec): number => app.port + ADMIN_PORT_OFFSET;

/** Whether an Ingress path rule matches `path` (Kubernetes semantics; ImplementationSpecific taken as Prefix). */
export function ingressPathMatches(rule: { path?: string; pathType?: string }, path: string): boolean {
  const rulePath = rule.path ?? '/';
  if (rule.pathType === 'Exact') return rulePath === path;
  // Prefix matches whole path elements: `/` matches everything, `/met` does not match `/metrics`.
  const elements = (p: string) => p.split('/').filter((e) => e !== '');
  const prefix = elements(rulePath);
  const target = elements(path);
  return prefix.length <= target.length && prefix.every((e, i) => e === target[i]);
}

// biome-ignore lint/suspicious/noExplicitAny: untyped YAML.
type Any = any;

/** Container ports (number) a Service port reaches on the pods it selects. */
function reachedContainerPorts(objects: K8sObject[], service: K8sObject, servicePort: { name?: string; number?: number }): number[] {
  const port = (service.spec?.ports ?? []).find((p: Any) =>
    servicePort.name ? p.name === servicePort.name : p.port === servicePort.number,
  );
  if (!port) return [];
  const target = port.targetPort ?? port.port;
  const selector: Record<string, string> = service.spec?.selector ?? {};
  const reached: number[] = [];
  for (const o of objects) {
    const labels = o.spec?.template?.metadata?.labels ?? (o.kind === 'Pod' ? o.metadata.labels : undefined);
    if (!labels || Object.keys(selector).length === 0 || !Object.entries(selector).every(([k, v]) => labels[k] === v)) continue;
    for (const pod of podSpecs(o)) {
      for (const c of pod.containers ?? []) {
        for (const p of c.ports ?? []) {
          if (typeof target === 'number' ? p.containerPort === target : p.name === target) reached.push(p.containerPort);
        }
      }
    }
  }
  return reached;
}

/**
 * Problems when an Ingress can reach health or metrics: a path rule matching `/healthz`, `/readyz` or
 * `/metrics` on an app that serves them on its public port, or a backend that reaches an admin port.
 */
export function publicExposureProblems(objects: K8sObject[], apps: readonly AppSpec[]): string[] {
  const problems: string[] = [];
  const adminPorts = new Set(apps.map(adminPortOf));
  for (const ing of objects.filter((o) => o.kind === 'Ingress')) {
    const id = objectId(ing);
    const paths = (ing.spec?.rules ?? []).flatMap((r: Any) => (r.http?.paths ?? []) as Any[]);
    if (ing.spec?.defaultBackend) paths.push({ path: '/', pathType: 'Prefix', backend: ing.spec.defaultBackend });
    for (const rule of paths) {
      for (const admin of ADMIN_PATHS) {
        if (ingressPathMatches(rule, admin)) problems.push(`${id}: path ${rule.path ?? '/'} (${rule.pathType}) exposes ${admin}`);
      }
      const backend = rule.backend?.service;
      const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === backend?.name);
      if (!service) continue;
      for (const port of reachedContainerPorts(objects, service, backend.port ?? {})) {
        if (adminPorts.has(port)) problems.push(`${id}: backend ${backend.name} reaches admin port ${port}`);
      }
    }
  }
  return problems;
}

/** The app serves health and metrics on its admin port: env, container port, probes, Prometheus annotations. */
export function adminPortProblems(objects: K8sObject[], app: AppSpec): string[] {
  const d = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === app.id);
  if (!d) return [`Deployment/${app.id}: missing`];
  const id = objectId(d);
  const admin = adminPortOf(app);
  const problems: string[] = [];
  const c = (d.spec?.template?.spec?.containers ?? []).find((x: Any) => x.name === app.id);
  if (!c) return [`${id}: no container named ${app.id}`];
  const env = (c.env ?? []).find((e: Any) => e.name === 'ADMIN_PORT');
  if (env?.value !== String(admin)) problems.push(`${id}: env ADMIN_PORT must be "${admin}" (got ${JSON.stringify(env?.value)})`);
  if (!(c.ports ?? []).some((p: Any) => p.containerPort === admin && p.name === 'admin'))
    problems.push(`${id}: container port ${admin} must be declared as "admin"`);
  for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
    const port = c[probe]?.httpGet?.port;
    if (port !== undefined && port !== 'admin' && port !== admin) problems.push(`${id}: ${probe} must target the admin port (got ${port})`);
  }
  const annotations: Record<string, string> = d.spec?.template?.metadata?.annotations ?? {};
  if (
    annotations['prometheus.io/scrape'] !== 'true' ||
    annotations['prometheus.io/port'] !== String(admin) ||
    annotations['prometheus.io/path'] !== '/metrics'
  )
    problems.push(`${id}: Prometheus annotations must scrape /metrics on the admin port ${admin}`);
  // daprd probes the app port only; /healthz is not served there in production.
  if (annotations['dapr.io/app-health-check-path'] !== '/dapr/healthz')
    problems.push(`${id}: dapr.io/app-health-check-path must be /dapr/healthz (the app port's liveness path)`);
  for (const svc of objects.filter((o) => o.kind === 'Service')) {
    for (const p of svc.spec?.ports ?? []) {
      if (reachedContainerPorts(objects, svc, { name: p.name, number: p.port }).includes(admin))
        problems.push(`${objectId(svc)}: port ${p.port} exposes the admin port of ${app.id}`);
    }
  }
  return problems;
}
