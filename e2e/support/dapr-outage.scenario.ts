import { createTestDatabase, DaprBrokerDouble, type DaprSidecarDouble, startDaprSidecarDouble } from '@taskgraph/testing';
import pg from 'pg';
import { Cluster, SYNC_LANDED, SYSTEM_SUBGRAPHS } from './cluster.js';
import type { Figures } from './figures.js';
import { duplicatedOf, type Ledger, lostAcknowledged, lostOf, settle } from './invariants.js';
import { runWorkload, type WorkloadResult } from './workload.js';

export interface DaprOutageOptions {
  mutations: number;
  /** Outages (each: publishes fail with 500, then hang), spread over the run. */
  outages: number;
  failMs: number;
  hangMs: number;
  concurrency: number;
  settleTimeoutMs: number;
  /** Notifications' reminder grace (default: the service's, 60 s); see the consumer-crash scenario. */
  reminderGraceMs?: number;
  figures: Figures;
  log?: (line: string) => void;
}

export interface DaprOutageOutcome {
  workload: WorkloadResult;
  ledger: Ledger;
  lostAcknowledged: number;
  /** Most outbox rows waiting for the relay during an outage (the outbox held them). */
  maxUnpublished: number;
  /** Rows still unpublished after the run. */
  unpublished: number;
  /** Messages the broker accepted out of log order, per topic (must be 0). */
  outOfOrder: number;
  /** Events the broker accepted twice. */
  republished: number;
  /** Publish requests refused or held by the sidecars during outages. */
  refusedPublishes: number;
  /** Audit trails whose entries were recorded out of version order (per-task order broken). */
  auditOutOfOrder: number;
  deadLetters: number;
}

/**
 * Fault 3 (Dapr mode): every service talks to its own sidecar double (one shared broker, like
 * pods on one Kafka). Mid-run, every sidecar's publish endpoint answers 500, then hangs: the
 * outbox must hold the events (mutations still succeed), then drain in log order once Dapr is
 * back, each consumer getting every event once in per-task order.
 */
export async function runDaprOutage(options: DaprOutageOptions): Promise<DaprOutageOutcome> {
  const log = options.log ?? (() => {});
  const db = await createTestDatabase('dapr_outage');
  const broker = new DaprBrokerDouble();
  const sidecars = new Map<string, DaprSidecarDouble>();
  for (const name of SYSTEM_SUBGRAPHS) sidecars.set(name, await startDaprSidecarDouble({ appId: name, broker }));
  const sql = new pg.Client({ connectionString: db.url });
  let cluster: Cluster | undefined;
  try {
    cluster = await Cluster.start({
      databaseUrl: db.url,
      subgraphs: SYSTEM_SUBGRAPHS,
      config: (name) => ({
        eventBus: 'dapr',
        dapr: sidecars.get(name)!.config,
        ...(name === 'notifications' && options.reminderGraceMs ? { reminderGraceMs: options.reminderGraceMs } : {}),
      }),
    });
    for (const member of cluster.members.values()) {
      await sidecars.get(member.name)!.addApp(member.url.replace(/\/graphql$/, ''), { appId: member.name });
    }
    await sql.connect();
    const unpublished = async () => Number((await sql.query('select count(*) as n from bus.outbox where published_at is null')).rows[0].n);
    let maxUnpublished = 0;
    const publishesBefore = () => [...sidecars.values()].reduce((n, s) => n + s.publishRequests().length, 0);
    let refusedPublishes = 0;
    const schedule = Array.from({ length: options.outages }, (_, i) => Math.floor(((i + 1) * options.mutations) / (options.outages + 1)));
    let faults: Promise<void> = Promise.resolve();
    const running = cluster;
    const workload = await runWorkload((q, v, as) => running.graphql(q, v, as), {
      mutations: options.mutations,
      users: ['dapr-user-0', 'dapr-user-1', 'dapr-user-2'],
      concurrency: options.concurrency,
      seed: 13,
      reminderAheadMs: [2_000, 15_000],
      onProgress: (settled) => {
        while (schedule.length > 0 && settled >= schedule[0]!) {
          schedule.shift();
          faults = faults.then(async () => {
            const before = publishesBefore();
            log(`Dapr publishes fail (500) at mutation ${settled}`);
            for (const sidecar of sidecars.values()) sidecar.setPublishMode('fail');
            options.figures.add('faults');
            const sample = async (ms: number) => {
              const until = Date.now() + ms;
              while (Date.now() < until) {
                maxUnpublished = Math.max(maxUnpublished, await unpublished());
                await new Promise((r) => setTimeout(r, 100));
              }
            };
            await sample(options.failMs);
            log('Dapr publishes hang');
            for (const sidecar of sidecars.values()) sidecar.setPublishMode('hang');
            options.figures.add('faults');
            await sample(options.hangMs);
            refusedPublishes += publishesBefore() - before;
            for (const sidecar of sidecars.values()) sidecar.setPublishMode('ok');
            log('Dapr back');
          });
        }
      },
    });
    await faults;
    const ledger = await settle(db.url, { sync: SYNC_LANDED, timeoutMs: options.settleTimeoutMs });
    await broker.idle(options.settleTimeoutMs).catch(() => {});
    let outOfOrder = 0;
    let republished = 0;
    for (const topic of ['task-events', 'task-updates', 'reminders']) {
      const messages = broker.messages(topic);
      const seqs = messages.map((m) => Number(m.cloudEvent.seq));
      for (let i = 1; i < seqs.length; i++) if (!(seqs[i]! > seqs[i - 1]!)) outOfOrder++;
      republished += messages.length - new Set(messages.map((m) => m.eventId)).size;
    }
    const auditOutOfOrder = Number(
      (
        await sql.query(`select count(*) as n from (
           select version < lag(version) over (partition by task_id order by seq) as back from audit.audit_entry) t where back`)
      ).rows[0].n,
    );
    const outcome: DaprOutageOutcome = {
      workload,
      ledger,
      lostAcknowledged: await lostAcknowledged(db.url, workload.acknowledged),
      maxUnpublished,
      unpublished: await unpublished(),
      outOfOrder,
      republished,
      refusedPublishes,
      auditOutOfOrder,
      deadLetters: broker.deadLetters.length,
    };
    const f = options.figures;
    f.add('mutations', workload.sent);
    f.add('ok', workload.ok);
    f.add(
      'events',
      Object.values(ledger.events).reduce((a, b) => a + b, 0),
    );
    f.add('lost', lostOf(ledger) + outcome.lostAcknowledged + outcome.unpublished);
    f.add('duplicated', duplicatedOf(ledger) + republished);
    f.add('refusedPublishes', refusedPublishes);
    f.set('maxHeldInOutbox', maxUnpublished);
    f.add('outOfOrder', outOfOrder + auditOutOfOrder);
    f.set('maxReminderDelayMs', ledger.notifications.maxDelayMs);
    return outcome;
  } finally {
    await cluster?.close();
    for (const sidecar of sidecars.values()) await sidecar.close().catch(() => {});
    broker.close();
    await sql.end().catch(() => {});
    await db.drop().catch(() => {});
  }
}

/**
 * The verdict every Dapr-outage run shares: nothing left in the outbox, published in order and once,
 * and every consumer's effects exactly once, nothing half-applied, nothing acknowledged then lost.
 */
export function expectDrainedExactlyOnce(outcome: DaprOutageOutcome): void {
  const { workload, ledger } = outcome;
  expect(workload.uncoded).toBe(0);
  expect(outcome.maxUnpublished).toBeGreaterThan(0);
  expect(outcome.unpublished).toBe(0);
  expect(outcome.outOfOrder).toBe(0);
  expect(outcome.republished).toBe(0);
  expect(outcome.auditOutOfOrder).toBe(0);
  expect(outcome.deadLetters).toBe(0);
  expect(ledger.audit).toEqual({ lost: 0, duplicated: 0, phantom: 0 });
  expect(ledger.recurrence).toMatchObject({ lost: 0, duplicated: 0 });
  expect(ledger.notifications).toMatchObject({ lost: 0, duplicated: 0, missed: 0, overdue: 0 });
  if (ledger.sync) expect(ledger.sync).toMatchObject({ lost: 0, duplicated: 0 });
  expect(ledger.halfApplied).toBe(0);
  expect(outcome.lostAcknowledged).toBe(0);
}
