import type { GraphQLResponse } from './cluster.js';

/** Runs one operation as a user (the cluster's or a system's `graphql`). */
export type Execute = (query: string, variables: Record<string, unknown>, as: string) => Promise<GraphQLResponse>;

export interface WorkloadOptions {
  /** Mutations to send. */
  mutations: number;
  users: readonly string[];
  /** Mutations in flight at once. */
  concurrency: number;
  /** Deterministic choice of operations (mulberry32 seed). */
  seed?: number;
  /** Called after each mutation settles with the number settled so far (fault injection hooks). */
  onProgress?: (settled: number) => void | Promise<void>;
  /** Absolute reminders are set this far ahead (ms range), so they fire during the run. */
  reminderAheadMs?: [number, number];
}

export interface WorkloadResult {
  sent: number;
  ok: number;
  /** Failed mutations by `extensions.code` (TRANSPORT = no HTTP answer). */
  failed: Record<string, number>;
  /** Failures without a code, or with INTERNAL_SERVER_ERROR: never acceptable. */
  uncoded: number;
  /** The first few of those, with the operation (for the report). */
  uncodedSamples: string[];
  byKind: Record<string, number>;
  remindersSet: number;
  /** Acknowledged writes: task id → the version the mutation returned (deleted: -version). */
  acknowledged: Map<string, number>;
  ms: number;
}

interface KnownTask {
  id: string;
  owner: string;
  status: 'OPEN' | 'DONE';
  recurring: boolean;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TASK = 'id status version';
const CREATE = `mutation($input: CreateTaskInput!) { createTask(input: $input) { ${TASK} } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateTaskInput!) { updateTask(id: $id, input: $input) { ${TASK} } }`;
const COMPLETE = `mutation($id: ID!) { completeTask(id: $id) { ${TASK} } }`;
const REOPEN = `mutation($id: ID!) { reopenTask(id: $id) { ${TASK} } }`;
const DELETE = 'mutation($id: ID!) { deleteTask(id: $id) { id version } }';

/**
 * A mixed task workload across users: creates (plain, with near reminders, recurring), updates,
 * completes, reopens and deletes. Recurring tasks are never deleted or re-ruled, so every completed
 * one must get exactly one next occurrence. It keeps going through faults: failures are counted by
 * code, never retried (a failed mutation must simply not exist; the ledger checks that).
 */
export async function runWorkload(execute: Execute, options: WorkloadOptions): Promise<WorkloadResult> {
  const random = mulberry32(options.seed ?? 42);
  const pick = <T>(items: readonly T[]): T | undefined => items[Math.floor(random() * items.length)];
  const [aheadMin, aheadMax] = options.reminderAheadMs ?? [1_000, 10_000];
  const known: KnownTask[] = [];
  const result: WorkloadResult = {
    sent: 0,
    ok: 0,
    failed: {},
    uncoded: 0,
    uncodedSamples: [],
    byKind: {},
    remindersSet: 0,
    acknowledged: new Map(),
    ms: 0,
  };
  const started = Date.now();
  let next = 0;
  let settledCount = 0;

  const plan = (): { kind: string; query: string; variables: Record<string, unknown>; as: string; target?: KnownTask } => {
    const as = pick(options.users)!;
    const mine = known.filter((t) => t.owner === as);
    const roll = random();
    const open = mine.filter((t) => t.status === 'OPEN');
    if (roll < 0.3 || mine.length < 3) {
      const now = Date.now();
      const flavour = random();
      const input: Record<string, unknown> = { title: `load ${next}`, priority: pick(['LOW', 'MEDIUM', 'HIGH', 'URGENT']), tags: ['load'] };
      if (flavour < 0.3) {
        input.dueAt = new Date(now + 3_600_000).toISOString();
        input.reminders = [{ at: new Date(now + aheadMin + random() * (aheadMax - aheadMin)).toISOString() }];
        result.remindersSet++;
        return { kind: 'create+reminder', query: CREATE, variables: { input }, as };
      }
      if (flavour < 0.5) {
        input.dueAt = new Date(now + 86_400_000).toISOString();
        input.timeZone = 'UTC';
        input.recurrence = pick(['FREQ=DAILY', 'FREQ=WEEKLY;BYDAY=MO,WE,FR', 'FREQ=MONTHLY;BYMONTHDAY=1']);
        return { kind: 'create+recurring', query: CREATE, variables: { input }, as };
      }
      return { kind: 'create', query: CREATE, variables: { input }, as };
    }
    if (roll < 0.55) {
      const target = pick(mine)!;
      const input = random() < 0.5 ? { title: `edited ${next}` } : { priority: pick(['LOW', 'HIGH']), tags: ['load', `t${next % 5}`] };
      return { kind: 'update', query: UPDATE, variables: { id: target.id, input }, as, target };
    }
    if (roll < 0.75 && open.length > 0) {
      const target = pick(open)!;
      return { kind: 'complete', query: COMPLETE, variables: { id: target.id }, as, target };
    }
    const done = mine.filter((t) => t.status === 'DONE');
    if (roll < 0.85 && done.length > 0) {
      const target = pick(done)!;
      return { kind: 'reopen', query: REOPEN, variables: { id: target.id }, as, target };
    }
    const deletable = mine.filter((t) => !t.recurring);
    const target = pick(deletable.length > 0 ? deletable : mine)!;
    if (target.recurring) return { kind: 'update', query: UPDATE, variables: { id: target.id, input: { notes: `n${next}` } }, as, target };
    return { kind: 'delete', query: DELETE, variables: { id: target.id }, as, target };
  };

  const worker = async () => {
    while (next < options.mutations) {
      next++;
      const op = plan();
      result.sent++;
      result.byKind[op.kind] = (result.byKind[op.kind] ?? 0) + 1;
      const res = await execute(op.query, op.variables, op.as);
      const payload = res.data ? (Object.values(res.data)[0] as { id: string; status?: 'OPEN' | 'DONE'; version: number } | null) : null;
      if (payload && !res.errors) {
        result.ok++;
        if (op.kind.startsWith('create')) {
          known.push({ id: payload.id, owner: op.as, status: 'OPEN', recurring: op.kind === 'create+recurring' });
          result.acknowledged.set(payload.id, payload.version);
        } else if (op.kind === 'delete') {
          known.splice(known.indexOf(op.target!), 1);
          result.acknowledged.set(payload.id, -payload.version);
        } else {
          if (payload.status) op.target!.status = payload.status;
          const before = result.acknowledged.get(payload.id) ?? 0;
          if (before >= 0) result.acknowledged.set(payload.id, Math.max(before, payload.version));
        }
      } else {
        const code = String(res.errors?.[0]?.extensions?.code ?? 'NONE');
        result.failed[code] = (result.failed[code] ?? 0) + 1;
        if (code === 'NONE' || code === 'INTERNAL_SERVER_ERROR' || code === 'NOT_JSON') {
          result.uncoded++;
          if (result.uncodedSamples.length < 5)
            result.uncodedSamples.push(`${op.kind} #${next}: ${res.status} ${JSON.stringify(res.errors ?? res.data)}`);
        }
        // A task another worker deleted meanwhile, or one whose create was never acknowledged.
        if (code === 'NOT_FOUND' && op.target && known.includes(op.target)) known.splice(known.indexOf(op.target), 1);
        // Faults fail fast (connection refused): back off, as a client would, so an outage does
        // not burn the whole run.
        if (code !== 'NOT_FOUND' && code !== 'CONFLICT') await new Promise((r) => setTimeout(r, 250));
      }
      settledCount++;
      await options.onProgress?.(settledCount);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, () => worker()));
  result.ms = Date.now() - started;
  return result;
}
