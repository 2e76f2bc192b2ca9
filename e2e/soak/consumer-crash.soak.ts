/** Fault 1, soak: 5,000 mutations; every consumer killed -9 three times and restarted. */
import { SYNC_LANDED } from '../support/cluster.js';
import { runConsumerCrash } from '../support/consumer-crash.scenario.js';
import { Figures } from '../support/figures.js';

const figures = new Figures('soak-consumer-crash');

afterAll(() => figures.report());

it('keeps exactly-once effects over 5,000 mutations and repeated kill -9 of every consumer', async () => {
  const outcome = await runConsumerCrash({
    mutations: 5_000,
    rounds: 3,
    concurrency: 8,
    users: 8,
    downMs: 1_000,
    settleTimeoutMs: 180_000,
    reminderGraceMs: 600_000,
    figures,
    log: (line) => console.log(line),
  });
  const { workload, ledger } = outcome;
  figures.set('failedCodes', JSON.stringify(workload.failed));
  if (workload.uncoded > 0) console.log('uncoded failures', workload.uncodedSamples);
  expect(workload.uncoded).toBe(0);
  expect(ledger.lag).toEqual({ audit: 0, notifications: 0, 'tasks-recurrence': 0 });
  expect(ledger.audit).toEqual({ lost: 0, duplicated: 0, phantom: 0 });
  expect(ledger.recurrence).toMatchObject({ lost: 0, duplicated: 0 });
  expect(ledger.notifications).toMatchObject({ lost: 0, duplicated: 0, missed: 0, overdue: 0 });
  if (SYNC_LANDED) expect(ledger.sync).toMatchObject({ lost: 0, duplicated: 0 });
  expect(ledger.halfApplied).toBe(0);
  expect(outcome.lostAcknowledged).toBe(0);
  expect(outcome.notReady).toEqual({});
});
