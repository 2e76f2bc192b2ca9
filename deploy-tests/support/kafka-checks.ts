import { type K8sObject, objectId } from './manifest.js';

/**
 * Structural checks on the Strimzi custom resources (no CRD schema is validated: Strimzi does not publish
 * its CRDs on npm). They check what the deployment relies on: the API version and Kafka versions the
 * installed Strimzi serves, KRaft node pools, the topics the code uses, and that replication settings fit
 * the brokers.
 */

/** The Strimzi release docs/DEPLOY.md installs. */
export const STRIMZI_RELEASE = '1.2.0';
/** The only API version Strimzi 1.x serves (`v1beta2` was removed in 1.0.0). */
export const STRIMZI = 'kafka.strimzi.io/v1';
const STRIMZI_GROUP = 'kafka.strimzi.io';
const CLUSTER_LABEL = 'strimzi.io/cluster';

/**
 * Kafka versions Strimzi 1.2 supports and the KRaft metadata version of each (its kafka-versions.yaml):
 * 4.2.x and 4.3.x; 4.1.x was dropped in 1.1.0.
 */
export const SUPPORTED_KAFKA_VERSIONS: Readonly<Record<string, string>> = {
  '4.2.0': '4.2-IV1',
  '4.2.1': '4.2-IV1',
  '4.3.0': '4.3-IV0',
  '4.3.1': '4.3-IV0',
};

/** Annotations Strimzi ignores since 0.46 (KRaft and node pools are the only mode): dead configuration. */
const IGNORED_ANNOTATIONS = ['strimzi.io/kraft', 'strimzi.io/node-pools'];

const kafkas = (objects: K8sObject[]) => objects.filter((o) => o.apiVersion === STRIMZI && o.kind === 'Kafka');
const pools = (objects: K8sObject[]) => objects.filter((o) => o.apiVersion === STRIMZI && o.kind === 'KafkaNodePool');
export const kafkaTopics = (objects: K8sObject[]): K8sObject[] => objects.filter((o) => o.kind === 'KafkaTopic');

/** Every Strimzi object uses `kafka.strimzi.io/v1`: Strimzi 1.x rejects `v1beta2` (and `v1alpha1`). */
export function strimziApiVersionProblems(objects: K8sObject[]): string[] {
  return objects
    .filter((o) => o.apiVersion.split('/')[0] === STRIMZI_GROUP && o.apiVersion !== STRIMZI)
    .map((o) => `${objectId(o)}: ${o.apiVersion} is not served by Strimzi ${STRIMZI_RELEASE}; use ${STRIMZI}`);
}

/** `spec.kafka.version` is one Strimzi 1.2 supports and `metadataVersion` is that release's. */
export function kafkaVersionProblems(kafka: K8sObject): string[] {
  const id = objectId(kafka);
  const version = kafka.spec?.kafka?.version;
  if (typeof version !== 'string') return [`${id}: spec.kafka.version must be pinned`];
  const metadata = SUPPORTED_KAFKA_VERSIONS[version];
  if (!metadata)
    return [
      `${id}: Kafka ${version} is not supported by Strimzi ${STRIMZI_RELEASE} (supported: ${Object.keys(SUPPORTED_KAFKA_VERSIONS).join(', ')})`,
    ];
  const actual = kafka.spec?.kafka?.metadataVersion;
  return actual === metadata ? [] : [`${id}: metadataVersion must be ${metadata} for Kafka ${version} (got ${JSON.stringify(actual)})`];
}

/** Number of broker nodes of a Kafka cluster (node pools with the broker role). */
export function brokerCount(objects: K8sObject[], cluster: string): number {
  return pools(objects)
    .filter((p) => p.metadata.labels?.[CLUSTER_LABEL] === cluster && p.spec?.roles?.includes('broker'))
    .reduce((n, p) => n + Number(p.spec?.replicas ?? 0), 0);
}

/** Kafka in KRaft mode with node pools, a topic operator, and replication factors its brokers can hold. */
export function strimziProblems(objects: K8sObject[]): string[] {
  const problems: string[] = strimziApiVersionProblems(objects);
  const clusters = kafkas(objects);
  if (clusters.length !== 1) return [...problems, `exactly one ${STRIMZI} Kafka expected (got ${clusters.length})`];
  const kafka = clusters[0]!;
  const id = objectId(kafka);
  for (const key of IGNORED_ANNOTATIONS) {
    if (kafka.metadata.annotations?.[key] !== undefined)
      problems.push(`${id}: annotation ${key} is ignored since Strimzi 0.46 (KRaft with node pools is the only mode); remove it`);
  }
  if (kafka.spec?.zookeeper !== undefined) problems.push(`${id}: spec.zookeeper must not be set (KRaft)`);
  problems.push(...kafkaVersionProblems(kafka));
  if (!Array.isArray(kafka.spec?.kafka?.listeners) || kafka.spec.kafka.listeners.length === 0) problems.push(`${id}: no listeners`);
  if (kafka.spec?.entityOperator?.topicOperator === undefined)
    problems.push(`${id}: entityOperator.topicOperator is needed for KafkaTopic resources`);
  const config = kafka.spec?.kafka?.config ?? {};
  if (config['auto.create.topics.enable'] !== false)
    problems.push(`${id}: auto.create.topics.enable must be false (topics come from KafkaTopic resources)`);

  const name = kafka.metadata.name;
  const nodePools = pools(objects).filter((p) => p.metadata.labels?.[CLUSTER_LABEL] === name);
  if (nodePools.length === 0) problems.push(`${id}: no KafkaNodePool labelled ${CLUSTER_LABEL}=${name}`);
  const roles = new Set(nodePools.flatMap((p) => p.spec?.roles ?? []));
  for (const role of ['controller', 'broker']) if (!roles.has(role)) problems.push(`${id}: no node pool with the ${role} role`);
  const controllers = nodePools.filter((p) => p.spec?.roles?.includes('controller')).reduce((n, p) => n + Number(p.spec?.replicas ?? 0), 0);
  if (controllers % 2 !== 1) problems.push(`${id}: ${controllers} KRaft controllers; use an odd number for a quorum`);
  for (const p of nodePools) if (!p.spec?.storage) problems.push(`${objectId(p)}: no storage`);
  for (const p of pools(objects)) {
    if (!kafkas(objects).some((k) => k.metadata.name === p.metadata.labels?.[CLUSTER_LABEL]))
      problems.push(`${objectId(p)}: ${CLUSTER_LABEL} names no Kafka`);
  }

  const brokers = brokerCount(objects, name);
  for (const key of [
    'offsets.topic.replication.factor',
    'transaction.state.log.replication.factor',
    'default.replication.factor',
    'min.insync.replicas',
  ]) {
    if (!(Number(config[key]) >= 1 && Number(config[key]) <= brokers))
      problems.push(`${id}: ${key}=${config[key]} must be between 1 and the ${brokers} broker(s)`);
  }
  return problems;
}

/**
 * The KafkaTopics are exactly the topics the code uses and their dead-letter topics, each attached to the
 * Kafka cluster, with partitions, replicas within the broker count and retention set.
 */
export function topicProblems<T extends string>(
  objects: K8sObject[],
  codeTopics: readonly T[],
  deadLetter: (topic: T) => string,
): string[] {
  const problems: string[] = [];
  const topics = kafkaTopics(objects);
  const byName = new Map(topics.map((t) => [String(t.spec?.topicName ?? t.metadata.name), t]));
  const expected = codeTopics.flatMap((t) => [t, deadLetter(t)]);
  for (const name of expected)
    if (!byName.has(name)) problems.push(`KafkaTopic ${name}: missing (the code publishes or dead-letters to it)`);
  for (const name of byName.keys())
    if (!expected.includes(name)) problems.push(`KafkaTopic ${name}: not used by the code (packages/events/src/topics.ts)`);

  for (const [name, t] of byName) {
    const id = objectId(t);
    if (t.apiVersion !== STRIMZI) problems.push(`${id}: ${t.apiVersion} is not served by Strimzi ${STRIMZI_RELEASE}; use ${STRIMZI}`);
    const cluster = t.metadata.labels?.[CLUSTER_LABEL];
    if (!kafkas(objects).some((k) => k.metadata.name === cluster)) problems.push(`${id}: label ${CLUSTER_LABEL}=${cluster} names no Kafka`);
    const partitions = t.spec?.partitions;
    const replicas = t.spec?.replicas;
    if (!Number.isInteger(partitions) || partitions < 1) problems.push(`${id}: partitions must be a positive integer`);
    const brokers = cluster ? brokerCount(objects, cluster) : 0;
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > brokers)
      problems.push(`${id}: replicas=${replicas} must be between 1 and the ${brokers} broker(s)`);
    const minIsr = Number(t.spec?.config?.['min.insync.replicas'] ?? 1);
    if (minIsr > replicas) problems.push(`${id}: min.insync.replicas=${minIsr} exceeds replicas=${replicas}`);
    const retention = t.spec?.config?.['retention.ms'];
    if (!(Number.isInteger(retention) && retention > 0)) problems.push(`${id}: retention.ms must be set (positive integer)`);
    const source = codeTopics.find((c) => deadLetter(c) === name);
    const sourceRetention = source ? byName.get(source)?.spec?.config?.['retention.ms'] : undefined;
    if (source && Number(sourceRetention) > Number(retention))
      problems.push(`${id}: keeps records shorter than ${source}; a dead letter must outlive its source`);
  }
  return problems;
}
