import rrulePkg from 'rrule';
import { fromWallClock, toWallClock } from './time-zone.js';

const { RRule, Frequency } = rrulePkg;

/** Most occurrences `nextOccurrences(count)` returns. */
export const MAX_OCCURRENCES = 50;

/** Result of validating an RRULE. */
export type RuleCheck = { ok: true; rule: string } | { ok: false; reason: string };

/**
 * Validates a recurrence rule with `rrule`. Accepts `FREQ=…` or `RRULE:FREQ=…`; DTSTART is not
 * allowed in the rule (the series starts at the task's due date) and sub-hourly frequencies are
 * refused (a task app has no use for them, and they make expansion expensive).
 */
export function checkRecurrence(input: string): RuleCheck {
  const text = input.trim().replace(/^RRULE:/i, '');
  if (text.length === 0 || text.length > 500) return { ok: false, reason: 'recurrence must be 1–500 characters' };
  if (/DTSTART|\n|\r/i.test(text)) return { ok: false, reason: 'recurrence must be a single RRULE without DTSTART' };
  const partError = checkParts(text);
  if (partError) return { ok: false, reason: partError };
  try {
    const options = RRule.parseString(text);
    if (options.freq === undefined) return { ok: false, reason: 'recurrence needs FREQ' };
    if (options.freq === Frequency.SECONDLY || options.freq === Frequency.MINUTELY) {
      return { ok: false, reason: 'recurrence more frequent than HOURLY is not supported' };
    }
    // rrule loops forever stepping HOURLY from a start hour that can never reach BYHOUR (e.g.
    // INTERVAL=2;BYHOUR=1): only an interval coprime with 24 reaches every hour from any start.
    if (options.freq === Frequency.HOURLY && options.byhour != null && gcd(options.interval ?? 1, 24) !== 1) {
      return { ok: false, reason: 'an HOURLY recurrence with BYHOUR needs an INTERVAL coprime with 24' };
    }
    const normalized = new RRule(options).toString().replace(/^RRULE:/, '');
    // Expanding once proves the rule is usable (rrule accepts some rules it cannot expand) and
    // that it ever occurs. A rule that never occurs (FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30) makes
    // rrule scan every period up to year 9999, seconds of blocked event loop per call: probe it
    // over the last years rrule supports only (a span of several periods), without COUNT/UNTIL.
    const { count: _count, until: _until, ...repeating } = options;
    const start = new Date(Date.UTC(PROBE_LAST_YEAR - probeYears(options.freq, options.interval ?? 1), 0, 1));
    if (!new RRule({ ...repeating, dtstart: start }).after(start, true)) {
      return { ok: false, reason: 'recurrence never occurs' };
    }
    return { ok: true, rule: normalized };
  } catch (error) {
    return { ok: false, reason: `invalid RRULE: ${(error as Error).message}` };
  }
}

const gcd = (a: number, b: number): number => (b === 0 ? Math.abs(a) : gcd(b, a % b));

/** rrule stops at year 9999; the never-occurs probe runs over the years before it. */
const PROBE_LAST_YEAR = 9998;
const YEARS_PER_PERIOD: Partial<Record<number, number>> = {
  [Frequency.YEARLY]: 1,
  [Frequency.MONTHLY]: 1 / 12,
  [Frequency.WEEKLY]: 1 / 52,
  [Frequency.DAILY]: 1 / 365,
  [Frequency.HOURLY]: 1 / 8_760,
};

/** Years the probe covers: 56 (two 28-year weekday/leap cycles) or three intervals, whichever is longer. */
function probeYears(freq: number, interval: number): number {
  return Math.min(7_900, Math.max(56, Math.ceil(3 * interval * (YEARS_PER_PERIOD[freq] ?? 1))));
}

const INT_LIST = /^[+-]?\d{1,4}(,[+-]?\d{1,4})*$/;
/** RFC 5545 RRULE parts and the shape of their values; rrule itself accepts e.g. INTERVAL=abc as NaN. */
const PARTS: Record<string, RegExp> = {
  FREQ: /^(YEARLY|MONTHLY|WEEKLY|DAILY|HOURLY|MINUTELY|SECONDLY)$/,
  INTERVAL: /^[1-9]\d{0,3}$/,
  COUNT: /^[1-9]\d{0,4}$/,
  UNTIL: /^\d{8}(T\d{6}Z?)?$/,
  WKST: /^(MO|TU|WE|TH|FR|SA|SU)$/,
  BYDAY: /^([+-]?\d{0,2}(MO|TU|WE|TH|FR|SA|SU))(,[+-]?\d{0,2}(MO|TU|WE|TH|FR|SA|SU))*$/,
  BYMONTH: INT_LIST,
  BYMONTHDAY: INT_LIST,
  BYYEARDAY: INT_LIST,
  BYWEEKNO: INT_LIST,
  BYHOUR: INT_LIST,
  BYMINUTE: INT_LIST,
  BYSECOND: INT_LIST,
  BYSETPOS: INT_LIST,
};

function checkParts(text: string): string | undefined {
  const seen = new Set<string>();
  for (const part of text.split(';')) {
    const [key, value, ...rest] = part.split('=');
    const name = (key ?? '').toUpperCase();
    const pattern = PARTS[name];
    if (!pattern || value === undefined || rest.length > 0) return `invalid RRULE part ${JSON.stringify(part.slice(0, 40))}`;
    if (seen.has(name)) return `RRULE part ${name} appears twice`;
    seen.add(name);
    if (!pattern.test(value.toUpperCase())) return `invalid RRULE value for ${name}`;
  }
  if (seen.has('COUNT') && seen.has('UNTIL')) return 'RRULE cannot have both COUNT and UNTIL';
  return undefined;
}

function ruleFor(rule: string, seriesStart: Date, zone: string): InstanceType<typeof RRule> {
  return new RRule({ ...RRule.parseString(rule), dtstart: toWallClock(seriesStart, zone), tzid: null });
}

/**
 * The first occurrence strictly after `after`, in a series that started at `seriesStart`,
 * computed in wall-clock time of `zone` (UNTIL/COUNT are counted from the series start).
 */
export function nextOccurrence(rule: string, seriesStart: Date, zone: string, after: Date): Date | null {
  const next = ruleFor(rule, seriesStart, zone).after(toWallClock(after, zone), false);
  return next ? fromWallClock(next, zone) : null;
}

/** Up to `count` occurrences strictly after `after`. */
export function nextOccurrences(rule: string, seriesStart: Date, zone: string, after: Date, count: number): Date[] {
  const r = ruleFor(rule, seriesStart, zone);
  const out: Date[] = [];
  let cursor = toWallClock(after, zone);
  for (let i = 0; i < Math.min(count, MAX_OCCURRENCES); i++) {
    const next = r.after(cursor, false);
    if (!next) break;
    out.push(fromWallClock(next, zone));
    cursor = next;
  }
  return out;
}
