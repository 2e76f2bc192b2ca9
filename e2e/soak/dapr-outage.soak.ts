/** Fault 3, soak: 2,000 mutations in Dapr mode with three publish outages (500s, then hangs). */
import { expectDrainedExactlyOnce, runDaprOutage } from '../support/dapr-outage.scenario.js';
import { Figures } from '../support/figures.js';

const figures = new Figures('soak-dapr-outage');

afterAll(() => figures.report());

it('holds and drains the outbox in order through repeated Dapr outages', async () => {
  const outcome = await runDaprOutage({
    mutations: 2_000,
    outages: 3,
    failMs: 5_000,
    hangMs: 5_000,
    concurrency: 8,
    settleTimeoutMs: 180_000,
    // Reminders due during an outage fire after the backlog drains; on two busy cores that can pass
    // the 60 s grace (MISSED by design). The soak judges exactly-once, so it allows 10 minutes.
    reminderGraceMs: 600_000,
    figures,
    log: (line) => console.log(line),
  });
  expectDrainedExactlyOnce(outcome);
});
