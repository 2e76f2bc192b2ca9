import { readFileSync } from 'node:fs';
import { ALL_TOPICS, deadLetterTopic } from '@taskgraph/events';
import { APPS, appById, repoPath } from './support/apps.js';
import { crdSchemaProblems } from './support/crd-schema.js';
import { daprComponentProblems, daprRunFileProblems, pubsubWiringProblems, resiliencyProblems } from './support/dapr-checks.js';
import { dockerfileProblems } from './support/dockerfile.js';
import { adminPortProblems, ingressPathMatches, publicExposureProblems } from './support/exposure-checks.js';
import { schemaProblems } from './support/k8s-schema.js';
import { kafkaTopics, strimziProblems, topicProblems } from './support/kafka-checks.js';
import { renderKustomization } from './support/kustomize.js';
import { type K8sObject, parseYamlFile, readObjects } from './support/manifest.js';
import { secretReferenceProblems } from './support/secret-checks.js';
import {
  appDeploymentProblems,
  appServingProblems,
  imageProblems,
  ingressProblems,
  workloadSecurityProblems,
} from './support/workload-checks.js';

/**
 * The validators must be able to fail. First on committed broken copies of real files
 * (deploy-tests/fixtures/broken/, which Jest does not run as tests), then on single mutations of the
 * rendered minikube overlay: each mutation must produce its specific problem.
 */
const broken = (file: string) => repoPath('deploy-tests', 'fixtures', 'broken', file);

describe('broken fixtures', () => {
  it('a Deployment copy without dapr.io/app-port: the Deployment check reports exactly that', () => {
    const tasks = appById('tasks');
    expect(appDeploymentProblems(readObjects(repoPath('k8s', 'base', 'apps', 'tasks.yaml')), tasks)).toEqual([]);
    expect(appDeploymentProblems(readObjects(broken('tasks-without-dapr-app-port.yaml')), tasks)).toEqual([
      'Deployment/tasks: pod annotation dapr.io/app-port must be "4001" (got undefined)',
    ]);
  });

  it('a topics copy without reminders-dlq: the topic check reports exactly that', () => {
    const rendered = renderKustomization(repoPath('k8s', 'overlays', 'cloud'));
    const withoutTopics = rendered.filter((o) => o.kind !== 'KafkaTopic');
    expect(
      topicProblems([...withoutTopics, ...readObjects(repoPath('k8s', 'base', 'kafka', 'topics.yaml'))], ALL_TOPICS, deadLetterTopic),
    ).toEqual([]);
    expect(
      topicProblems([...withoutTopics, ...readObjects(broken('topics-without-reminders-dlq.yaml'))], ALL_TOPICS, deadLetterTopic),
    ).toEqual(['KafkaTopic reminders-dlq: missing (the code publishes or dead-letters to it)']);
  });

  it('the Strimzi 0.48 kafka.yaml (v1beta2, Kafka 4.1.0, KRaft annotations): each is reported for Strimzi 1.2', () => {
    const rendered = renderKustomization(repoPath('k8s', 'overlays', 'cloud'));
    const rest = rendered.filter((o) => o.kind !== 'Kafka' && o.kind !== 'KafkaNodePool');
    expect(strimziProblems([...rest, ...readObjects(repoPath('k8s', 'base', 'kafka', 'kafka.yaml'))])).toEqual([]);
    expect(strimziProblems([...rest, ...readObjects(broken('kafka-strimzi-0.48.yaml'))])).toEqual([
      'KafkaNodePool/dual-role: kafka.strimzi.io/v1beta2 is not served by Strimzi 1.2.0; use kafka.strimzi.io/v1',
      'Kafka/taskgraph: kafka.strimzi.io/v1beta2 is not served by Strimzi 1.2.0; use kafka.strimzi.io/v1',
      `exactly one kafka.strimzi.io/v1 Kafka expected (got 0)`,
    ]);
    // The same file with only the apiVersion fixed still fails on the version and the dead annotations.
    const relabelled = readObjects(broken('kafka-strimzi-0.48.yaml')).map((o) => ({ ...o, apiVersion: 'kafka.strimzi.io/v1' }));
    expect(strimziProblems([...rest, ...relabelled])).toEqual([
      'Kafka/taskgraph: annotation strimzi.io/kraft is ignored since Strimzi 0.46 (KRaft with node pools is the only mode); remove it',
      'Kafka/taskgraph: annotation strimzi.io/node-pools is ignored since Strimzi 0.46 (KRaft with node pools is the only mode); remove it',
      'Kafka/taskgraph: Kafka 4.1.0 is not supported by Strimzi 1.2.0 (supported: 4.2.0, 4.2.1, 4.3.0, 4.3.1)',
    ]);
  });

  it('a Dockerfile copy without HEALTHCHECK: the Dockerfile check reports exactly that', () => {
    expect(dockerfileProblems(readFileSync(repoPath('Dockerfile'), 'utf8'))).toEqual([]);
    expect(dockerfileProblems(readFileSync(broken('Dockerfile'), 'utf8'))).toEqual(['Dockerfile: the runtime stage needs a HEALTHCHECK']);
  });
});

type Mutation = [
  description: string,
  mutate: (objects: K8sObject[]) => void,
  check: (objects: K8sObject[]) => string[] | Promise<string[]>,
  expected: string,
];

const get = (objects: K8sObject[], kind: string, name: string): K8sObject => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`${kind}/${name} not rendered`);
  return o;
};
const container = (objects: K8sObject[], app: string) => get(objects, 'Deployment', app).spec.template.spec.containers[0];
const envVar = (objects: K8sObject[], app: string, name: string) =>
  container(objects, app).env.find((e: { name: string }) => e.name === name);
const gateway = appById('gateway');

const mutations: Mutation[] = [
  [
    'gateway without a readiness probe',
    (o) => delete container(o, 'gateway').readinessProbe,
    (o) => appDeploymentProblems(o, gateway),
    'readinessProbe must be an httpGet probe',
  ],
  [
    'liveness probe on the wrong path',
    (o) => (container(o, 'audit').livenessProbe.httpGet.path = '/health'),
    (o) => appDeploymentProblems(o, appById('audit')),
    'livenessProbe path must be /healthz',
  ],
  [
    'JWT_SECRET inline',
    (o) => Object.assign(envVar(o, 'gateway', 'JWT_SECRET'), { value: 'x'.repeat(40), valueFrom: undefined }),
    (o) => appDeploymentProblems(o, gateway),
    'env JWT_SECRET has an inline value',
  ],
  [
    'EVENT_BUS left embedded',
    (o) => (envVar(o, 'sync', 'EVENT_BUS').value = 'embedded'),
    (o) => appDeploymentProblems(o, appById('sync')),
    'env EVENT_BUS must be "dapr"',
  ],
  [
    'Dapr app API token not configured',
    (o) => delete get(o, 'Deployment', 'tasks').spec.template.metadata.annotations['dapr.io/app-token-secret'],
    (o) => appDeploymentProblems(o, appById('tasks')),
    'pod annotation dapr.io/app-token-secret must name the app API token Secret',
  ],
  [
    'APP_API_TOKEN from another Secret than daprd sends',
    (o) => (envVar(o, 'audit', 'APP_API_TOKEN').valueFrom.secretKeyRef.name = 'taskgraph-secrets'),
    (o) => appDeploymentProblems(o, appById('audit')),
    'env APP_API_TOKEN must come from Secret taskgraph-app-api-token key token',
  ],
  [
    'app API token Secret not generated (the pods and daprd would wait for it forever)',
    (o) => o.splice(o.indexOf(get(o, 'Secret', 'taskgraph-app-api-token')), 1),
    (o) => secretReferenceProblems(o, { external: false }),
    'Deployment/taskgraph/tasks annotation dapr.io/app-token-secret: Secret taskgraph-app-api-token is neither generated by the overlay nor declared external',
  ],
  [
    'generated Secret without a key a pod reads',
    (o) => delete get(o, 'Secret', 'taskgraph-secrets').data['jwt-secret'],
    (o) => secretReferenceProblems(o, { external: false }),
    'Deployment/taskgraph/gateway env JWT_SECRET: Secret/taskgraph/taskgraph-secrets provides no key jwt-secret',
  ],
  [
    'a Secret only an ExternalSecret would create, on minikube (no operator there)',
    (o) => {
      const generated = get(o, 'Secret', 'taskgraph-db');
      o.splice(o.indexOf(generated), 1, {
        apiVersion: 'external-secrets.io/v1',
        kind: 'ExternalSecret',
        metadata: { name: 'taskgraph-db', namespace: 'taskgraph' },
        spec: { target: { name: 'taskgraph-db' }, data: [{ secretKey: 'database-url', remoteRef: { key: 'db' } }] },
      });
    },
    (o) => secretReferenceProblems(o, { external: false }),
    'Secret taskgraph-db is neither generated by the overlay nor declared external',
  ],
  [
    'the Ingress back on `/` Prefix (the issue-19 manifests: /metrics public)',
    (o) => Object.assign(get(o, 'Ingress', 'gateway').spec.rules[0].http.paths[0], { path: '/', pathType: 'Prefix' }),
    (o) => publicExposureProblems(o, APPS),
    'Ingress/taskgraph/gateway: path / (Prefix) exposes /metrics',
  ],
  [
    'an extra Ingress path for /healthz',
    (o) =>
      get(o, 'Ingress', 'gateway').spec.rules[0].http.paths.push({
        path: '/healthz',
        pathType: 'Exact',
        backend: { service: { name: 'gateway', port: { name: 'http' } } },
      }),
    (o) => publicExposureProblems(o, APPS),
    'path /healthz (Exact) exposes /healthz',
  ],
  [
    'the gateway Service routing its public port to the admin port',
    (o) => (get(o, 'Service', 'gateway').spec.ports[0].targetPort = 'admin'),
    (o) => publicExposureProblems(o, APPS),
    'Ingress/taskgraph/gateway: backend gateway reaches admin port 9000',
  ],
  [
    'a Service exposing an admin port',
    (o) => get(o, 'Service', 'tasks').spec.ports.push({ name: 'admin', port: 9001, targetPort: 'admin' }),
    (o) => adminPortProblems(o, appById('tasks')),
    'Service/taskgraph/tasks: port 9001 exposes the admin port of tasks',
  ],
  [
    'readiness probe on the public port',
    (o) => (container(o, 'sync').readinessProbe.httpGet.port = 'http'),
    (o) => adminPortProblems(o, appById('sync')),
    'readinessProbe must target the admin port (got http)',
  ],
  [
    'Prometheus scraping the public port',
    (o) => (get(o, 'Deployment', 'audit').spec.template.metadata.annotations['prometheus.io/port'] = '4002'),
    (o) => adminPortProblems(o, appById('audit')),
    'Prometheus annotations must scrape /metrics on the admin port 9002',
  ],
  [
    'daprd health check on /healthz (not served on the app port in production)',
    (o) => (get(o, 'Deployment', 'notifications').spec.template.metadata.annotations['dapr.io/app-health-check-path'] = '/healthz'),
    (o) => adminPortProblems(o, appById('notifications')),
    'dapr.io/app-health-check-path must be /dapr/healthz',
  ],
  [
    'Dapr disabled',
    (o) => (get(o, 'Deployment', 'notifications').spec.template.metadata.annotations['dapr.io/enabled'] = 'false'),
    (o) => appDeploymentProblems(o, appById('notifications')),
    'dapr.io/enabled must be "true"',
  ],
  [
    'privilege escalation allowed',
    (o) => (container(o, 'tasks').securityContext.allowPrivilegeEscalation = true),
    (o) => workloadSecurityProblems(get(o, 'Deployment', 'tasks')),
    'allowPrivilegeEscalation must be false',
  ],
  [
    'no memory limit',
    (o) => delete container(o, 'tasks').resources.limits.memory,
    (o) => workloadSecurityProblems(get(o, 'Deployment', 'tasks')),
    'resources.limits.memory missing',
  ],
  [
    'writable root filesystem',
    (o) => (container(o, 'sync').securityContext.readOnlyRootFilesystem = false),
    (o) => workloadSecurityProblems(get(o, 'Deployment', 'sync')),
    'readOnlyRootFilesystem must be true',
  ],
  [
    'image on latest',
    (o) => (container(o, 'audit').image = 'taskgraph/audit:latest'),
    (o) => imageProblems(get(o, 'Deployment', 'audit')),
    'needs an explicit tag',
  ],
  [
    'Service on the wrong port',
    (o) => (get(o, 'Service', 'tasks').spec.ports[0].port = 8080),
    (o) => appServingProblems(o, appById('tasks')),
    'Service/taskgraph/tasks: no port 4001',
  ],
  [
    'HPA missing',
    (o) => o.splice(o.indexOf(get(o, 'HorizontalPodAutoscaler', 'tasks')), 1),
    (o) => appServingProblems(o, appById('tasks')),
    'HorizontalPodAutoscaler for tasks: missing',
  ],
  [
    'PDB missing',
    (o) => o.splice(o.indexOf(get(o, 'PodDisruptionBudget', 'audit')), 1),
    (o) => appServingProblems(o, appById('audit')),
    'PodDisruptionBudget for audit: missing',
  ],
  [
    'Ingress with nginx default timeouts',
    (o) => delete get(o, 'Ingress', 'gateway').metadata.annotations!['nginx.ingress.kubernetes.io/proxy-read-timeout'],
    (o) => ingressProblems(o, gateway),
    'proxy-read-timeout must be >= 3600',
  ],
  [
    'Deployment with a wrongly typed port (schema)',
    (o) => (container(o, 'gateway').ports[0].containerPort = '4000'),
    (o) => schemaProblems(get(o, 'Deployment', 'gateway')),
    'containerPort must be integer',
  ],
  [
    'Kafka on kafka.strimzi.io/v1beta2 (removed in Strimzi 1.0)',
    (o) => (get(o, 'Kafka', 'taskgraph').apiVersion = 'kafka.strimzi.io/v1beta2'),
    strimziProblems,
    'Kafka/taskgraph/taskgraph: kafka.strimzi.io/v1beta2 is not served by Strimzi 1.2.0; use kafka.strimzi.io/v1',
  ],
  [
    'KafkaNodePool on kafka.strimzi.io/v1beta2',
    (o) => (get(o, 'KafkaNodePool', 'dual-role').apiVersion = 'kafka.strimzi.io/v1beta2'),
    strimziProblems,
    'KafkaNodePool/taskgraph/dual-role: kafka.strimzi.io/v1beta2 is not served',
  ],
  [
    'KafkaTopic on kafka.strimzi.io/v1beta2',
    (o) => (get(o, 'KafkaTopic', 'reminders').apiVersion = 'kafka.strimzi.io/v1beta2'),
    (o) => topicProblems(o, ALL_TOPICS, deadLetterTopic),
    'KafkaTopic/taskgraph/reminders: kafka.strimzi.io/v1beta2 is not served',
  ],
  [
    'Kafka on v1beta2 against the Strimzi 1.2 CRDs',
    (o) => (get(o, 'Kafka', 'taskgraph').apiVersion = 'kafka.strimzi.io/v1beta2'),
    (o) => crdSchemaProblems(get(o, 'Kafka', 'taskgraph')),
    'kafka.strimzi.io/v1beta2 Kafka is not served',
  ],
  [
    'Kafka with a field the v1 CRD does not declare (ZooKeeper-era spec.kafka.replicas)',
    (o) => (get(o, 'Kafka', 'taskgraph').spec.kafka.replicas = 3),
    (o) => crdSchemaProblems(get(o, 'Kafka', 'taskgraph')),
    '/spec/kafka must NOT have additional properties (replicas)',
  ],
  [
    'KafkaTopic with a string partition count',
    (o) => (get(o, 'KafkaTopic', 'task-events').spec.partitions = '12'),
    (o) => crdSchemaProblems(get(o, 'KafkaTopic', 'task-events')),
    '/spec/partitions must be integer',
  ],
  [
    'KafkaNodePool with an unknown role',
    (o) => get(o, 'KafkaNodePool', 'dual-role').spec.roles.push('zookeeper'),
    (o) => crdSchemaProblems(get(o, 'KafkaNodePool', 'dual-role')),
    '/spec/roles/2 must be equal to one of the allowed values',
  ],
  [
    'Dapr Component without spec.type',
    (o) => delete get(o, 'Component', 'pubsub').spec.type,
    (o) => crdSchemaProblems(get(o, 'Component', 'pubsub')),
    "must have required property 'type'",
  ],
  [
    'Kafka 4.1.0 (dropped in Strimzi 1.1)',
    (o) => Object.assign(get(o, 'Kafka', 'taskgraph').spec.kafka, { version: '4.1.0', metadataVersion: '4.1-IV1' }),
    strimziProblems,
    'Kafka 4.1.0 is not supported by Strimzi 1.2.0 (supported: 4.2.0, 4.2.1, 4.3.0, 4.3.1)',
  ],
  [
    'Kafka 4.4.0 (newer than Strimzi 1.2 knows)',
    (o) => (get(o, 'Kafka', 'taskgraph').spec.kafka.version = '4.4.0'),
    strimziProblems,
    'Kafka 4.4.0 is not supported',
  ],
  [
    'Kafka 4.3.1 with the 4.2 metadata version',
    (o) => (get(o, 'Kafka', 'taskgraph').spec.kafka.version = '4.3.1'),
    strimziProblems,
    'metadataVersion must be 4.3-IV0 for Kafka 4.3.1 (got "4.2-IV1")',
  ],
  [
    'Kafka keeping the ignored KRaft annotation',
    (o) => (get(o, 'Kafka', 'taskgraph').metadata.annotations = { 'strimzi.io/kraft': 'enabled' }),
    strimziProblems,
    'annotation strimzi.io/kraft is ignored since Strimzi 0.46',
  ],
  [
    'topic with more replicas than brokers',
    (o) => (kafkaTopics(o)[0]!.spec.replicas = 3),
    (o) => topicProblems(o, ALL_TOPICS, deadLetterTopic),
    'replicas=3 must be between 1 and the 1 broker(s)',
  ],
  [
    'stale topic nobody uses',
    (o) =>
      o.push({
        ...structuredClone(kafkaTopics(o)[0]!),
        metadata: { name: 'task-events-v0', labels: { 'strimzi.io/cluster': 'taskgraph' } },
      }),
    (o) => topicProblems(o, ALL_TOPICS, deadLetterTopic),
    'KafkaTopic task-events-v0: not used by the code',
  ],
  [
    'broadcast component with a shared group',
    (o) => get(o, 'Component', 'pubsub-broadcast').spec.metadata.push({ name: 'consumerGroup', value: 'sync' }),
    (o) => daprComponentProblems(o, APPS, { selfHosted: false }),
    'consumerID "{podName}"',
  ],
  [
    'pubsub starting at the newest offset',
    (o) => (get(o, 'Component', 'pubsub').spec.metadata.find((m: { name: string }) => m.name === 'initialOffset').value = 'newest'),
    (o) => daprComponentProblems(o, APPS, { selfHosted: false }),
    'initialOffset must be "oldest"',
  ],
  [
    'sync on the shared pub/sub',
    (o) => (envVar(o, 'sync', 'DAPR_PUBSUB_NAME').value = 'pubsub'),
    pubsubWiringProblems,
    'is not scoped to sync',
  ],
  [
    'resiliency target naming an undefined policy',
    (o) => (get(o, 'Resiliency', 'taskgraph-resiliency').spec.targets.apps.tasks.retry = 'nope'),
    (o) => resiliencyProblems(o, APPS),
    'retry "nope" is not defined',
  ],
];

describe('Ingress path matching (Kubernetes semantics)', () => {
  it.each([
    [{ path: '/', pathType: 'Prefix' }, '/metrics', true],
    [{ path: '/graphql', pathType: 'Exact' }, '/metrics', false],
    [{ path: '/graphql', pathType: 'Exact' }, '/graphql', true],
    [{ path: '/met', pathType: 'Prefix' }, '/metrics', false],
    [{ path: '/metrics/', pathType: 'Prefix' }, '/metrics', true],
    [{ path: '/health', pathType: 'ImplementationSpecific' }, '/healthz', false],
    [{ path: '/', pathType: 'ImplementationSpecific' }, '/readyz', true],
  ])('%j matches %s: %s', (rule, path, expected) => {
    expect(ingressPathMatches(rule, path)).toBe(expected);
  });
});

describe('each mutation of the rendered minikube overlay is reported', () => {
  it.each(mutations)('%s', async (_description, mutate, check, expected) => {
    const objects = renderKustomization(repoPath('k8s', 'overlays', 'minikube'));
    expect(await check(objects)).toEqual([]);
    mutate(objects);
    const problems = await check(objects);
    expect(problems.some((p) => p.includes(expected))).toBe(true);
  });

  it('dapr.yaml with a wrong port is reported', () => {
    const [run] = parseYamlFile(repoPath('dapr', 'dapr.yaml')) as [{ apps: { appID: string; appPort: number }[] }];
    expect(daprRunFileProblems(run, repoPath('dapr'), APPS, 'pubsub-broadcast')).toEqual([]);
    run.apps.find((a) => a.appID === 'tasks')!.appPort = 5001;
    expect(daprRunFileProblems(run, repoPath('dapr'), APPS, 'pubsub-broadcast')).toEqual(['dapr.yaml tasks: appPort 5001 must be 4001']);
  });
});
