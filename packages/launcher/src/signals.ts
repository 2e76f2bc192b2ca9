import { closeAndExit, type Logger } from '@taskgraph/runtime';

/** How long a repeated signal counts as the same Ctrl-C (npm forwards the terminal's SIGINT to its child too). */
const SAME_SIGNAL_MS = 2_000;

/**
 * SIGINT/SIGTERM → `close()` then exit 0, installed before anything starts so a Ctrl-C during
 * start-up still stops what was started. The same Ctrl-C delivered twice (by the terminal to the
 * process group and again by npm) is one request; a signal after that forces exit 1 at once, and
 * the children, which watch their IPC channel to the launcher, then shut themselves down.
 */
export function stopOnSignals(logger: Logger, timeoutMs: number): { setClose(close: () => Promise<void>): void } {
  let close: (() => Promise<void>) | undefined;
  let requestedAt: number | undefined;
  const run = () => {
    if (!close) return; // start-up still running: `setClose` runs it
    closeAndExit(close, logger, timeoutMs);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (requestedAt !== undefined) {
      if (Date.now() - requestedAt < SAME_SIGNAL_MS) return;
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    requestedAt = Date.now();
    logger.info({ signal }, 'shutting down');
    run();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    setClose(fn) {
      close = fn;
      if (requestedAt !== undefined) run();
    },
  };
}
