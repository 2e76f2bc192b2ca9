/**
 * The supervisor with real child processes (tiny scripts): a child that keeps crashing is restarted
 * with growing delays; one that never comes up fails `ready()` instead of looping forever; `stop()`
 * ends a running child and no restart follows.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@taskgraph/runtime';
import { type SupervisionOptions, superviseChild } from './supervisor.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'taskgraph-supervisor-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const script = (name: string, body: string) => {
  const path = join(dir, name);
  writeFileSync(path, body);
  return path;
};

const FAST: SupervisionOptions = {
  initialBackoffMs: 50,
  maxBackoffMs: 400,
  stableAfterMs: 60_000,
  maxStartFailures: 3,
  stopTimeoutMs: 2_000,
};

/** A logger whose records the test can read. */
function recordingLogger() {
  const records: Record<string, unknown>[] = [];
  const logger = createLogger('supervisor-test', 'info');
  const capture = (level: string) => (obj: unknown, msg?: string) => records.push({ level, ...(obj as object), msg });
  return { records, logger: Object.assign(Object.create(logger), { info: capture('info'), error: capture('error') }) as typeof logger };
}

describe('superviseChild', () => {
  it('gives up on a child that exits before it was ever up, with growing delays between tries', async () => {
    const { records, logger } = recordingLogger();
    const lines: string[] = [];
    const child = superviseChild(
      { name: 'crasher', entry: script('crash.mjs', "console.log('boom'); process.exit(3);"), env: process.env },
      'crasher | ',
      (text) => lines.push(text),
      logger,
      FAST,
    );
    await expect(child.ready()).rejects.toThrow(/crasher exited 3 times before it was up \(last: code 3/);
    const restarts = records.filter((r) => r.msg === 'exited unexpectedly; restarting');
    expect(restarts.map((r) => r.restartInMs)).toEqual([50, 100]);
    expect(records.some((r) => r.msg === 'exited before it was ever healthy; giving up')).toBe(true);
    // Output is prefixed line by line.
    expect(lines.filter((l) => l === 'crasher | boom\n')).toHaveLength(3);
    await child.stop();
  }, 20_000);

  it('restarts a child that was up when it crashes, and stop() ends it without a restart', async () => {
    const { records, logger } = recordingLogger();
    // Up at once (IPC ready message); the first process crashes after a moment, the second stays.
    const marker = join(dir, 'crashed-once');
    const entry = script(
      'flaky.mjs',
      `import { existsSync, writeFileSync } from 'node:fs';
process.send({ ready: true });
if (!existsSync(${JSON.stringify(marker)})) { writeFileSync(${JSON.stringify(marker)}, ''); setTimeout(() => process.exit(1), 100); }
else setInterval(() => {}, 1000);
process.on('SIGTERM', () => process.exit(0));`,
    );
    const child = superviseChild({ name: 'flaky', entry, env: process.env }, '', () => {}, logger, FAST);
    await child.ready();
    const first = child.pid();
    const deadline = Date.now() + 10_000;
    // Restarted and up again (its ready message), so its SIGTERM handler is installed.
    while (records.filter((r) => r.msg === 'healthy').length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(child.crashes()).toBe(1);
    expect(child.pid()).not.toBe(first);
    const second = child.pid()!;
    await child.stop();
    expect(() => process.kill(second, 0)).toThrow();
    await new Promise((r) => setTimeout(r, 200));
    expect(child.pid()).toBeUndefined();
    expect(records.filter((r) => r.msg === 'started')).toHaveLength(2);
    expect(records.find((r) => r.msg === 'stopped')).toMatchObject({ child: 'flaky', code: 0 });
  }, 20_000);
});
