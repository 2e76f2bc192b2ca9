import { createTestDatabase } from '@taskgraph/testing';
import { Cluster, readyStatus, SYNC_LANDED, SYSTEM_SUBGRAPHS, waitFor } from './cluster.js';
import type { Figures } from './figures.js';
import { duplicatedOf, type Ledger, lostAcknowledged, lostOf, settle } from './invariants.js';
import { runWorkload, type WorkloadResult } from './workload.js';

export interface ConsumerCrashOptions {
  mutations: number;
  /** Each round kills every consumer once, spread over the run. */
  rounds: number;
  concurrency: number;
  users: number;
  /** How long a killed consumer stays down before it is started again. */
  downMs: number;
  settleTimeoutMs: number;
  /** Notifications' reminder grace (default: the service's, 60 s). */
  reminderGraceMs?: number;
  figures: Figures;
  log?: (line: string) => void;
}

export interface ConsumerCrashOutcome {
  workload: WorkloadResult;
  ledger: Ledger;
  lostAcknowledged: number;
  kills: Record<string, number>;
  /** Members not ready (HTTP status) after the run. */
  notReady: Record<string, number>;
}

/** The consumers fault 1 kills: every process that consumes the log. */
export const CONSUMERS = ['audit', 'notifications', 'tasks', ...(SYNC_LANDED ? ['sync'] : [])];

/**
 * Fault 1: every consumer (audit, notifications, the tasks recurrence worker — it lives in the tasks
 * process —, and sync once it is registered) runs in its own process and is `kill -9`ed in the middle
 * of a mutation run, then started again on the same port and database. The ledger is then read
 * from the log: exactly one audit entry per event, one notification per fired reminder, one next
 * occurrence per completed recurring task, one sync row per update; nothing half-applied, no
 * acknowledged write missing.
 */
export async function runConsumerCrash(options: ConsumerCrashOptions): Promise<ConsumerCrashOutcome> {
  const log = options.log ?? (() => {});
  const db = await createTestDatabase('crash');
  const cluster = await Cluster.start({
    databaseUrl: db.url,
    subgraphs: SYSTEM_SUBGRAPHS,
    children: CONSUMERS,
    // A reminder later than the grace is MISSED by design; a soak that overloads two cores may set
    // it longer, so that MISSED keeps meaning "delivered absurdly late", not "the box was busy".
    config: (name) => (name === 'notifications' && options.reminderGraceMs ? { reminderGraceMs: options.reminderGraceMs } : {}),
  });
  try {
    const kills: Record<string, number> = {};
    const schedule: { at: number; victim: string }[] = [];
    const total = CONSUMERS.length * options.rounds;
    for (let i = 0; i < total; i++) {
      schedule.push({ at: Math.floor(((i + 1) * options.mutations) / (total + 1)), victim: CONSUMERS[i % CONSUMERS.length]! });
    }
    let faults: Promise<void> = Promise.resolve();
    const users = Array.from({ length: options.users }, (_, i) => `crash-user-${i}`);
    const workload = await runWorkload((q, v, as) => cluster.graphql(q, v, as), {
      mutations: options.mutations,
      users,
      concurrency: options.concurrency,
      seed: 7,
      onProgress: (settled) => {
        while (schedule.length > 0 && settled >= schedule[0]!.at) {
          const { victim } = schedule.shift()!;
          faults = faults.then(async () => {
            const member = cluster.member(victim);
            await member.child!.kill();
            kills[victim] = (kills[victim] ?? 0) + 1;
            options.figures.add('faults');
            log(`kill -9 ${victim} at mutation ${settled}`);
            await new Promise((r) => setTimeout(r, options.downMs));
            await member.start();
          });
        }
      },
    });
    await faults;
    const ledger = await settle(db.url, { sync: SYNC_LANDED, timeoutMs: options.settleTimeoutMs });
    const notReady: Record<string, number> = {};
    for (const member of cluster.members.values()) {
      await waitFor(`${member.name} ready`, async () => (await readyStatus(member.url)) === 200, 30_000).catch(() => {});
      const status = await readyStatus(member.url);
      if (status !== 200) notReady[member.name] = status;
    }
    const acknowledgedLost = await lostAcknowledged(db.url, workload.acknowledged);
    const f = options.figures;
    f.add('mutations', workload.sent);
    f.add('ok', workload.ok);
    f.add(
      'failedDuringFaults',
      Object.values(workload.failed).reduce((a, b) => a + b, 0),
    );
    f.add(
      'events',
      Object.values(ledger.events).reduce((a, b) => a + b, 0),
    );
    f.add('lost', lostOf(ledger) + acknowledgedLost);
    f.add('duplicated', duplicatedOf(ledger));
    f.add('auditEntriesChecked', ledger.events['task-events'] ?? 0);
    f.add('remindersFired', ledger.notifications.fired);
    f.add('notifications', ledger.notifications.notifications);
    f.add('remindersMissed', ledger.notifications.missed);
    f.set('maxReminderDelayMs', ledger.notifications.maxDelayMs);
    f.add('recurringCompleted', ledger.recurrence.completed);
    if (ledger.sync) f.add('syncRows', ledger.sync.stored);
    return { workload, ledger, lostAcknowledged: acknowledgedLost, kills, notReady };
  } finally {
    await cluster.close();
    await db.drop().catch(() => {});
  }
}
