/**
 * Fault 1 (in `npm test`, small): kill -9 every consumer in the middle of a mutation run and start
 * it again. The long version (5,000 mutations, several rounds) is `npm run test:soak`.
 */
import { SYNC_LANDED } from './support/cluster.js';
import { CONSUMERS, runConsumerCrash } from './support/consumer-crash.scenario.js';
import { Figures } from './support/figures.js';

const figures = new Figures('consumer-crash');

afterAll(() => figures.report());

it('keeps exactly-once effects when each consumer is killed -9 mid-run and restarted', async () => {
  const outcome = await runConsumerCrash({
    mutations: 300,
    rounds: 1,
    concurrency: 6,
    users: 4,
    downMs: 500,
    settleTimeoutMs: 60_000,
    figures,
  });
  figures.set('sync', SYNC_LANDED ? 'killed' : 'not-landed');
  const { workload, ledger } = outcome;
  expect(Object.keys(outcome.kills).sort()).toEqual([...CONSUMERS].sort());
  expect(workload.ok).toBeGreaterThan(workload.sent / 2);
  // Faults are reported with codes; nothing failed without one.
  expect(workload.uncoded).toBe(0);
  expect(ledger.lag).toEqual({ audit: 0, notifications: 0, 'tasks-recurrence': 0 });
  expect(ledger.audit).toEqual({ lost: 0, duplicated: 0, phantom: 0 });
  expect(ledger.recurrence.completed).toBeGreaterThan(0);
  expect(ledger.recurrence).toMatchObject({ lost: 0, duplicated: 0 });
  expect(ledger.notifications.fired).toBeGreaterThan(0);
  expect(ledger.notifications).toMatchObject({ lost: 0, duplicated: 0, missed: 0, overdue: 0 });
  expect(ledger.notifications.notifications).toBe(ledger.notifications.fired);
  if (SYNC_LANDED) expect(ledger.sync).toMatchObject({ lost: 0, duplicated: 0 });
  expect(ledger.halfApplied).toBe(0);
  expect(outcome.lostAcknowledged).toBe(0);
  expect(outcome.notReady).toEqual({});
}, 240_000);
