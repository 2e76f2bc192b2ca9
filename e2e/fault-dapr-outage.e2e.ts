/**
 * Fault 3 (Dapr mode, in `npm test`): the sidecars' publish endpoint fails with 500, then hangs.
 * The outbox holds the events and drains in order afterwards. Longer: `npm run test:soak`.
 */
import { expectDrainedExactlyOnce, runDaprOutage } from './support/dapr-outage.scenario.js';
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
  const { workload } = outcome;
  // The outage is invisible to writers: the outbox took every event.
  expect(workload.ok).toBe(workload.sent - (workload.failed.NOT_FOUND ?? 0));
  expect(outcome.refusedPublishes).toBeGreaterThan(0);
  expectDrainedExactlyOnce(outcome);
}, 240_000);
