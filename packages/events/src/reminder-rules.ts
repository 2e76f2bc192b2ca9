import type { ReminderRule } from './schemas.js';

/** Most reminders one task may carry. */
export const MAX_REMINDERS = 10;

const DURATION = /^P(?!$)(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/**
 * Parses an ISO-8601 duration of weeks, days, hours, minutes and seconds (`PT15M`, `P1DT2H`)
 * into milliseconds; `undefined` when it is not one. Years and months are refused: their length
 * depends on the date, which a reminder offset must not.
 */
export function parseIsoDuration(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (!m) return undefined;
  const [, w, d, h, min, s] = m;
  const ms =
    (Number(w ?? 0) * 7 * 86_400 + Number(d ?? 0) * 86_400 + Number(h ?? 0) * 3_600 + Number(min ?? 0) * 60 + Number(s ?? 0)) * 1000;
  return Number.isFinite(ms) ? ms : undefined;
}

/** When a reminder rule fires for a task due at `dueAt`; `undefined` when it cannot (offset without due date). */
export function reminderFireTime(rule: ReminderRule, dueAt: Date | null): Date | undefined {
  if (rule.at) return new Date(rule.at);
  if (!rule.offset || !dueAt) return undefined;
  const ms = parseIsoDuration(rule.offset);
  return ms === undefined ? undefined : new Date(dueAt.getTime() - ms);
}
