import type { ReminderInput } from '@taskgraph/client';

/** A value the user typed that cannot be used, with the form field it belongs to. */
export class FieldError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

const DATE_TIME: Intl.DateTimeFormatOptions = { year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' };

/** An instant in the reader's own time zone, e.g. `Nov 29, 2026, 7:50 PM`. */
export const formatDateTime = (iso: string): string => new Date(iso).toLocaleString(undefined, DATE_TIME);

/**
 * An instant as the wall-clock time of `timeZone` (the task's), naming the zone's place when it is
 * not the reader's own zone: `Jan 7, 2030, 9:00 AM (New York time)`.
 */
export function formatInZone(iso: string, timeZone: string | null | undefined): string {
  if (!timeZone || timeZone === browserTimeZone() || !isTimeZone(timeZone)) return formatDateTime(iso);
  const place = (timeZone.split('/').pop() ?? timeZone).replace(/_/g, ' ');
  return `${new Date(iso).toLocaleString(undefined, { ...DATE_TIME, timeZone })} (${place} time)`;
}

const ISO_INSTANT = /\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})\b/g;

/** Text with every ISO-8601 instant in it (server-written messages) shown as a local date and time. */
export const humanizeInstants = (text: string): string => text.replace(ISO_INSTANT, (iso) => formatDateTime(iso));

/** The browser's IANA time zone (the default for new tasks). */
export const browserTimeZone = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone;

export function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** How far `timeZone`'s wall clock is ahead of UTC at the instant `ms`. */
function zoneOffsetMs(ms: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(new Date(ms));
  const part = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const wall = Date.UTC(part('year'), part('month') - 1, part('day'), part('hour'), part('minute'), part('second'));
  return wall - Math.floor(ms / 1000) * 1000;
}

const WALL_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})$/;

/**
 * A wall-clock time typed for `timeZone` (`2026-12-01T09:00`, as `<input type="datetime-local">`
 * gives it) → the ISO instant. 09:00 in America/New_York is 14:00Z in winter, whatever zone the
 * browser is in. A time that does not exist (skipped by a DST change) moves forward by the gap.
 */
export function wallTimeToIso(value: string, timeZone: string): string {
  const match = WALL_TIME.exec(value.trim());
  if (!match) throw new FieldError('dueAt', 'Enter a date and a time.');
  const [, y, mo, d, hh, mm] = match.map(Number) as [number, number, number, number, number, number];
  const wall = Date.UTC(y, mo - 1, d, hh, mm);
  const first = wall - zoneOffsetMs(wall, timeZone);
  return new Date(wall - zoneOffsetMs(first, timeZone)).toISOString();
}

/** An ISO instant → the `<input type="datetime-local">` value of its wall-clock time in `timeZone`. */
export function isoToWallTime(iso: string | null | undefined, timeZone: string): string {
  if (!iso) return '';
  const ms = Date.parse(iso);
  return new Date(ms + zoneOffsetMs(ms, timeZone)).toISOString().slice(0, 16);
}

/** The time zone field: empty → the browser's; an unknown name is the user's to fix. */
export function parseTimeZone(value: string): string {
  const zone = value.trim() || browserTimeZone();
  if (!isTimeZone(zone))
    throw new FieldError('timeZone', `“${zone}” is not a time zone. Use a name like Europe/Berlin or America/New_York.`);
  return zone;
}

/** `"work, home ,"` → `['work', 'home']`. */
export const parseList = (value: string): string[] =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);

const DURATION = /^P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$/i;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Reminders typed as a list: ISO-8601 durations before the due time (`PT15M`, `P1D`), or dates and
 * times (`2026-12-01 08:30`, in the task's time zone, or an ISO instant with its offset).
 */
export function parseReminders(value: string, timeZone: string): ReminderInput[] {
  return parseList(value).map((item) => {
    if (DURATION.test(item)) return { offset: item.toUpperCase() };
    if (INSTANT.test(item)) return { at: new Date(item).toISOString() };
    if (WALL_TIME.test(item)) return { at: wallTimeToIso(item, timeZone) };
    throw new FieldError(
      'reminders',
      `“${item}” is not a reminder. Use a time before the due date like PT15M (15 minutes), PT2H or P1D, or a date and time like 2026-12-01 08:30.`,
    );
  });
}

/** A reminder rule for people: `15 minutes before`, `1 day before`, or its date and time. */
export function formatReminder(rule: { offset?: string | null; at?: string | null }, timeZone?: string | null): string {
  if (rule.at) return formatInZone(rule.at, timeZone);
  if (!rule.offset) return '?';
  const match = DURATION.exec(rule.offset);
  if (!match) return `${rule.offset} before`;
  const units: Array<[string | undefined, string]> = [
    [match[1], 'year'],
    [match[2], 'month'],
    [match[3], 'week'],
    [match[4], 'day'],
    [match[6], 'hour'],
    [match[7], 'minute'],
    [match[8], 'second'],
  ];
  const words = units
    .filter(([amount]) => amount !== undefined)
    .map(([amount, unit]) => {
      const n = Number.parseInt(amount as string, 10);
      return `${n} ${unit}${n === 1 ? '' : 's'}`;
    });
  return `${words.join(' ')} before`;
}

/** A reminder rule as the user types it back into the form. */
export const reminderText = (rule: { offset?: string | null; at?: string | null }, timeZone: string): string =>
  rule.offset ?? (rule.at ? isoToWallTime(rule.at, timeZone).replace('T', ' ') : '');
