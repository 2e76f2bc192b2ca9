import type { Logger } from './logger.js';

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
    setTimeout(() => {
      logger.error('shutdown timed out');
      process.exit(1);
    }, timeoutMs).unref();
    close().then(
      () => process.exit(0),
      (error) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
}

/** `index.ts` body: run the factory, exit non-zero on failure (CONVENTIONS §1). */
export async function runMain(start: () => Promise<{ url: string; close(): Promise<void> }>, logger: Logger): Promise<void> {
  try {
    const service = await start();
    logger.info({ url: service.url }, 'listening');
    closeOnSignals(() => service.close(), logger);
  } catch (error) {
    logger.fatal({ err: error }, error instanceof Error ? error.message : 'startup failed');
    process.exit(1);
  }
}
