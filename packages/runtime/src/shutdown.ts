import type { Logger } from './logger.js';
import { startTracing } from './tracing.js';

/** Runs `close`, then exits: 0 when it resolves, 1 when it rejects or has not finished after `timeoutMs`. */
export function closeAndExit(close: () => Promise<void>, logger: Logger, timeoutMs: number): void {
  setTimeout(() => {
    logger.error(`shutdown did not finish within ${timeoutMs} ms`);
    process.exit(1);
  }, timeoutMs).unref();
  close().then(
    () => process.exit(0),
    (error) => {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    },
  );
}

/**
 * Closes the service on SIGTERM/SIGINT (stop accepting, drain, close DB) and exits; a second
 * signal or a stuck close forces exit after `timeoutMs`.
 */
export function closeOnSignals(close: () => Promise<void>, logger: Logger, timeoutMs = 15_000): void {
  let closing = false;
  const onSignal = (signal: string) => {
    if (closing) process.exit(1);
    closing = true;
    logger.info({ signal }, 'shutting down');
    closeAndExit(close, logger, timeoutMs);
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
}

/**
 * `index.ts` body: turn tracing on as `OTEL_*` says (off by default, ARCHITECTURE §8), run the
 * factory, exit non-zero on failure (CONVENTIONS §1).
 */
export async function runMain(
  start: () => Promise<{ url: string; close(): Promise<void> }>,
  logger: Logger,
  serviceName = 'taskgraph',
): Promise<void> {
  try {
    const tracing = startTracing({ serviceName });
    const service = await start();
    logger.info({ url: service.url }, 'listening');
    closeOnSignals(async () => {
      await service.close();
      await tracing.shutdown();
    }, logger);
  } catch (error) {
    logger.fatal({ err: error }, error instanceof Error ? error.message : 'startup failed');
    process.exit(1);
  }
}
