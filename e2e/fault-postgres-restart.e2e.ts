/**
 * Fault 2 (in `npm test`, small): Postgres stops and starts again under load. Services report
 * not-ready, recover by themselves, lose nothing; mutations in the outage fail with a code and are
 * never half-applied. Longer: `npm run test:soak`.
 */
import { SYSTEM_SUBGRAPHS } from './support/cluster.js';
import { Figures } from './support/figures.js';
import { runPostgresRestart } from './support/postgres-restart.scenario.js';

const figures = new Figures('postgres-restart');

afterAll(() => figures.report());

it('survives a Postgres restart under load: not-ready, self-recovery, nothing lost or half-applied', async () => {
  const outcome = await runPostgresRestart({ mutations: 300, outages: 1, downMs: 3_000, concurrency: 5, settleTimeoutMs: 60_000, figures });
  const { workload, ledger } = outcome;
  figures.set('outageCodes', JSON.stringify(outcome.codesDuringOutage));
  expect(outcome.outages).toHaveLength(1);
  expect(outcome.outages[0]!.notReadyDuringOutage).toEqual([...SYSTEM_SUBGRAPHS].sort());
  expect(outcome.outages[0]!.recoveryMs).toBeLessThan(30_000);
  // Mutations in the outage failed with a clear, retryable code.
  expect(Object.keys(outcome.codesDuringOutage).length).toBeGreaterThan(0);
  expect(Object.keys(outcome.codesDuringOutage)).toEqual(['UNAVAILABLE']);
  expect(workload.uncoded).toBe(0);
  expect(ledger.halfApplied).toBe(0);
  expect(ledger.lag).toEqual({ audit: 0, notifications: 0, 'tasks-recurrence': 0 });
  expect(ledger.audit).toEqual({ lost: 0, duplicated: 0, phantom: 0 });
  expect(ledger.recurrence).toMatchObject({ lost: 0, duplicated: 0 });
  expect(ledger.notifications).toMatchObject({ lost: 0, duplicated: 0, missed: 0, overdue: 0 });
  if (ledger.sync) expect(ledger.sync).toMatchObject({ lost: 0, duplicated: 0 });
  expect(outcome.lostAcknowledged).toBe(0);
}, 240_000);
