import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EmbeddedPostgresHandle, freePort, startEmbeddedPostgres } from '@taskgraph/runtime';
import pg from 'pg';
import { Cluster, readyStatus, SYNC_LANDED, SYSTEM_SUBGRAPHS, waitFor } from './cluster.js';
import type { Figures } from './figures.js';
import { duplicatedOf, type Ledger, lostAcknowledged, lostOf, settle } from './invariants.js';
import { runWorkload, type WorkloadResult } from './workload.js';

export interface PostgresRestartOptions {
  mutations: number;
  /** Postgres outages, spread over the run. */
  outages: number;
  /** How long Postgres stays down. */
  downMs: number;
  concurrency: number;
  settleTimeoutMs: number;
  figures: Figures;
  log?: (line: string) => void;
}

export interface OutageObservation {
  /** Members whose `/readyz` answered 503 while Postgres was down. */
  notReadyDuringOutage: string[];
  /** ms from Postgres being back until every member's `/readyz` answered 200 again. */
  recoveryMs: number;
}

export interface PostgresRestartOutcome {
  workload: WorkloadResult;
  ledger: Ledger;
  lostAcknowledged: number;
  outages: OutageObservation[];
  /** Error codes of mutations sent while Postgres was down. */
  codesDuringOutage: Record<string, number>;
}

/**
 * Fault 2: the system runs on a Postgres this test owns; it is stopped and started again (same
 * port, same data) during a mutation run. Every service must report not-ready while it is gone,
 * come back by itself (ORM pool, LISTEN connections, relay), lose nothing, and never half-apply.
 */
export async function runPostgresRestart(options: PostgresRestartOptions): Promise<PostgresRestartOutcome> {
  const log = options.log ?? (() => {});
  const parent = await mkdtemp(join(tmpdir(), 'taskgraph-pg-restart-'));
  await chmod(parent, 0o755); // the unprivileged postgres user must reach its data directory
  const dataDir = join(parent, 'pg');
  const port = await freePort();
  let server: EmbeddedPostgresHandle | undefined = await startEmbeddedPostgres({ dataDir, port, persistent: true, fast: true });
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query('create database reliability');
  await admin.end();
  const databaseUrl = server.url.replace(/\/postgres$/, '/reliability');
  let cluster: Cluster | undefined;
  try {
    cluster = await Cluster.start({ databaseUrl, subgraphs: SYSTEM_SUBGRAPHS });
    const members = [...cluster.members.values()];
    const outages: OutageObservation[] = [];
    const codesDuringOutage: Record<string, number> = {};
    let down = false;
    const schedule = Array.from({ length: options.outages }, (_, i) => Math.floor(((i + 1) * options.mutations) / (options.outages + 1)));
    let faults: Promise<void> = Promise.resolve();
    const running = cluster;
    const workload = await runWorkload(
      async (q, v, as) => {
        const during = down;
        const res = await running.graphql(q, v, as);
        if (during && res.errors) {
          const code = String(res.errors[0]?.extensions?.code ?? 'NONE');
          codesDuringOutage[code] = (codesDuringOutage[code] ?? 0) + 1;
        }
        return res;
      },
      {
        mutations: options.mutations,
        users: ['pg-user-0', 'pg-user-1', 'pg-user-2'],
        concurrency: options.concurrency,
        seed: 11,
        reminderAheadMs: [2_000, 20_000],
        onProgress: (settled) => {
          while (schedule.length > 0 && settled >= schedule[0]!) {
            schedule.shift();
            faults = faults.then(async () => {
              log(`stopping Postgres at mutation ${settled}`);
              // Mutations in flight while it stops count as sent during the outage.
              down = true;
              await server!.stop();
              server = undefined;
              options.figures.add('faults');
              const notReady = new Set<string>();
              const downSince = Date.now();
              // Every service must notice (its /readyz checks the database) while Postgres is gone.
              while (Date.now() - downSince < options.downMs) {
                for (const member of members) if ((await readyStatus(member.url)) === 503) notReady.add(member.name);
                await new Promise((r) => setTimeout(r, 100));
              }
              server = await startEmbeddedPostgres({ dataDir, port, persistent: true, fast: true });
              down = false;
              const back = Date.now();
              await waitFor(
                'every service ready again',
                async () => (await Promise.all(members.map((m) => readyStatus(m.url)))).every((s) => s === 200),
                60_000,
                100,
              ).catch((error) => log(String(error)));
              outages.push({ notReadyDuringOutage: [...notReady].sort(), recoveryMs: Date.now() - back });
              log(`Postgres back; services ready after ${Date.now() - back} ms`);
            });
          }
        },
      },
    );
    await faults;
    const ledger = await settle(databaseUrl, { sync: SYNC_LANDED, timeoutMs: options.settleTimeoutMs });
    const acknowledgedLost = await lostAcknowledged(databaseUrl, workload.acknowledged);
    const f = options.figures;
    f.add('mutations', workload.sent);
    f.add('ok', workload.ok);
    f.add(
      'failedDuringOutage',
      Object.values(codesDuringOutage).reduce((a, b) => a + b, 0),
    );
    f.add(
      'events',
      Object.values(ledger.events).reduce((a, b) => a + b, 0),
    );
    f.add('lost', lostOf(ledger) + acknowledgedLost);
    f.add('duplicated', duplicatedOf(ledger));
    f.add('halfApplied', ledger.halfApplied);
    f.set('maxRecoveryMs', Math.max(0, ...outages.map((o) => o.recoveryMs)));
    return { workload, ledger, lostAcknowledged: acknowledgedLost, outages, codesDuringOutage };
  } finally {
    await cluster?.close();
    await server?.stop().catch(() => {});
    await rm(parent, { recursive: true, force: true });
  }
}
