import { ALL_TOPICS, deadLetterTopic } from '@taskgraph/events';
import { APPS, appById, repoPath } from './support/apps.js';
import { daprComponentProblems, pubsubWiringProblems, resiliencyProblems } from './support/dapr-checks.js';
import { isBuiltIn, schemaProblems } from './support/k8s-schema.js';
import { kafkaTopics, strimziProblems, topicProblems } from './support/kafka-checks.js';
import { renderKustomization } from './support/kustomize.js';
import { apiGroup, type K8sObject, objectId } from './support/manifest.js';
import {
  appDeploymentProblems,
  appServingProblems,
  imageProblems,
  ingressProblems,
  namespaceProblems,
  workloadSecurityProblems,
} from './support/workload-checks.js';

/** Custom resource groups the deployment uses; anything else needs a check written for it first. */
const CUSTOM_GROUPS = new Set(['dapr.io', 'kafka.strimzi.io']);
const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'Pod']);

describe.each(['minikube', 'cloud'])('k8s/overlays/%s', (overlay) => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = renderKustomization(repoPath('k8s', 'overlays', overlay));
  });

  it('validates every built-in object against the Kubernetes schemas', async () => {
    const builtIn = objects.filter(isBuiltIn);
    expect(builtIn.length).toBeGreaterThan(20);
    const problems: string[] = [];
    // One at a time: see schemaProblems.
    for (const o of builtIn) problems.push(...(await schemaProblems(o)));
    expect(problems).toEqual([]);
  });

  it('uses no API group without checks', () => {
    const unknown = objects.filter((o) => !isBuiltIn(o) && !CUSTOM_GROUPS.has(apiGroup(o.apiVersion))).map(objectId);
    expect(unknown).toEqual([]);
  });

  it('puts everything in one namespace it creates', () => {
    expect(namespaceProblems(objects)).toEqual([]);
  });

  it('runs every workload non-root, read-only, without capabilities, with limits and pinned images', () => {
    const workloads = objects.filter((o) => WORKLOADS.has(o.kind));
    expect(workloads.length).toBeGreaterThanOrEqual(APPS.length);
    expect(workloads.flatMap((o) => [...workloadSecurityProblems(o), ...imageProblems(o)])).toEqual([]);
  });

  it.each(APPS.map((a) => a.id))('deploys %s with Dapr annotations, probes, env and secrets from Secrets', (id) => {
    expect(appDeploymentProblems(objects, appById(id))).toEqual([]);
  });

  it.each(APPS.map((a) => a.id))('serves %s through a Service with a PDB (and an HPA where autoscaled)', (id) => {
    expect(appServingProblems(objects, appById(id))).toEqual([]);
  });

  it('exposes the gateway through an Ingress that keeps WebSockets open', () => {
    expect(ingressProblems(objects, appById('gateway'))).toEqual([]);
  });

  it('runs Kafka in KRaft mode with node pools', () => {
    expect(strimziProblems(objects)).toEqual([]);
  });

  it('declares a KafkaTopic (and its dead-letter topic) for every topic in @taskgraph/events', () => {
    expect(ALL_TOPICS.length).toBeGreaterThan(0);
    expect(topicProblems(objects, ALL_TOPICS, deadLetterTopic)).toEqual([]);
    expect(kafkaTopics(objects)).toHaveLength(ALL_TOPICS.length * 2);
  });

  it('configures the Dapr components, resiliency and each app’s pub/sub', () => {
    expect(daprComponentProblems(objects, APPS, { selfHosted: false })).toEqual([]);
    expect(resiliencyProblems(objects, APPS)).toEqual([]);
    expect(pubsubWiringProblems(objects)).toEqual([]);
  });

  it('points the Kafka components at the cluster’s bootstrap listener', () => {
    const secret = objects.find((o) => o.kind === 'Secret' && o.metadata.name === 'taskgraph-kafka');
    const kafka = objects.find((o) => o.kind === 'Kafka');
    const [host, port] = String(secret?.stringData?.brokers).split(':');
    expect(host).toBe(`${kafka?.metadata.name}-kafka-bootstrap`);
    const plain = kafka?.spec.kafka.listeners.find((l: { port: number }) => l.port === Number(port));
    // The components use authType none: the listener must be plaintext.
    expect(plain).toMatchObject({ type: 'internal', tls: false });
  });
});

describe('overlay differences', () => {
  const minikube = renderKustomization(repoPath('k8s', 'overlays', 'minikube'));
  const cloud = renderKustomization(repoPath('k8s', 'overlays', 'cloud'));

  it('minikube runs its own Postgres; cloud expects a managed one', () => {
    expect(minikube.filter((o) => o.kind === 'StatefulSet').map((o) => o.metadata.name)).toEqual(['postgres']);
    expect(cloud.some((o) => o.kind === 'StatefulSet')).toBe(false);
  });

  it('minikube fits on one broker; cloud keeps three', () => {
    const replicas = (objects: K8sObject[]) => [...new Set(kafkaTopics(objects).map((t) => t.spec.replicas))];
    expect(replicas(minikube)).toEqual([1]);
    expect(replicas(cloud)).toEqual([3]);
  });

  it('cloud pulls images from a registry and serves TLS', () => {
    const images = cloud.filter((o) => o.kind === 'Deployment').map((o) => o.spec.template.spec.containers[0].image);
    expect(images.every((image: string) => image.startsWith('registry.example.com/taskgraph/'))).toBe(true);
    expect(cloud.find((o) => o.kind === 'Ingress')?.spec.tls).toHaveLength(1);
  });
});
