/** Fault 2, soak: 2,000 mutations with three Postgres restarts. */
import { SYSTEM_SUBGRAPHS } from '../support/cluster.js';
import { Figures } from '../support/figures.js';
import { runPostgresRestart } from '../support/postgres-restart.scenario.js';

const figures = new Figures('soak-postgres-restart');

afterAll(() => figures.report());

it('survives repeated Postgres restarts under load', async () => {
  const outcome = await runPostgresRestart({
    mutations: 2_000,
    outages: 3,
    downMs: 5_000,
    concurrency: 8,
    settleTimeoutMs: 180_000,
    figures,
    log: (line) => console.log(line),
  });
  const { workload, ledger } = outcome;
  figures.set('outageCodes', JSON.stringify(outcome.codesDuringOutage));
  if (workload.uncoded > 0) console.log('uncoded failures', workload.uncodedSamples);
  expect(outcome.outages).toHaveLength(3);
  for (const outage of outcome.outages) {
    expect(outage.notReadyDuringOutage).toEqual([...SYSTEM_SUBGRAPHS].sort());
    expect(outage.recoveryMs).toBeLessThan(30_000);
  }
  expect(Object.keys(outcome.codesDuringOutage)).toEqual(['UNAVAILABLE']);
  expect(workload.uncoded).toBe(0);
  expect(ledger.halfApplied).toBe(0);
  expect(ledger.audit).toEqual({ lost: 0, duplicated: 0, phantom: 0 });
  expect(ledger.recurrence).toMatchObject({ lost: 0, duplicated: 0 });
  expect(ledger.notifications).toMatchObject({ lost: 0, duplicated: 0, missed: 0, overdue: 0 });
  if (ledger.sync) expect(ledger.sync).toMatchObject({ lost: 0, duplicated: 0 });
  expect(outcome.lostAcknowledged).toBe(0);
});
