import { type Logger, pino } from 'pino';

export type { Logger };

/** Structured JSON logger; every line carries the service name. */
export function createLogger(service: string, level = 'info'): Logger {
  return pino({ name: service, level, base: { service } });
}
