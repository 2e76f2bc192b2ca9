/**
 * Fault 3 (Dapr mode, in `npm test`): the sidecars' publish endpoint fails with 500, then hangs.
 * The outbox holds the events and drains in order afterwards. Longer: `npm run test:soak`.
 */
import { runDaprOutage } from './support/dapr-outage.scenario.js';
import { Figures } from './support/figures.js';

const figures = new Figures('dapr-outage');

afterAll(() => figures.report());

it('holds events in the outbox while Dapr fails or hangs, then drains them in order, each once', async () => {
  const outcome = await runDaprOutage({
    mutations: 200,
    outages: 1,
    failMs: 3_000,
    hangMs: 3_000,
    concurrency: 5,
    settleTimeoutMs: 60_000,
    figures,
  });
  const { workload, ledger } = outcome;
  // The outage is invisible to writers: the outbox took every event.
  expect(workload.ok).toBe(workload.sent - (workload.failed.NOT_FOUND ?? 0));
  expect(workload.uncoded).toBe(0);
  expect(outcome.refusedPublishes).toBeGreaterThan(0);
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
}, 240_000);
