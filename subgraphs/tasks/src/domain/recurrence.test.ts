import { checkRecurrence, nextOccurrence, nextOccurrences } from './recurrence.js';
import { fromWallClock, toWallClock } from './time-zone.js';

describe('checkRecurrence', () => {
  it.each(['FREQ=DAILY', 'RRULE:FREQ=WEEKLY;BYDAY=MO,WE', 'FREQ=MONTHLY;COUNT=3', 'FREQ=YEARLY;UNTIL=20300101T000000Z'])(
    'accepts %s',
    (rule) => {
      expect(checkRecurrence(rule).ok).toBe(true);
    },
  );

  it.each([
    ['', 'empty'],
    ['FREQ=SECONDLY', 'too frequent'],
    ['FREQ=MINUTELY', 'too frequent'],
    ['BYDAY=MO', 'no FREQ'],
    ['FREQ=DAILY;BYDAY=XX', 'bad BYDAY'],
    ['DTSTART:20200101T000000Z\nRRULE:FREQ=DAILY', 'DTSTART'],
    ['hello', 'garbage'],
    ['FREQ=DAILY;INTERVAL=abc', 'bad interval'],
    ['FREQ=HOURLY;INTERVAL=2;BYHOUR=1', 'rrule would loop forever'],
    ['FREQ=HOURLY;INTERVAL=24;BYHOUR=1', 'rrule would loop forever'],
    ['FREQ=DAILY;BYMONTH=2;BYMONTHDAY=31', 'never occurs'],
    ['FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30', 'never occurs'],
    ['FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=4,6,9,11', 'never occurs'],
  ])('refuses %j (%s)', (rule) => {
    expect(checkRecurrence(rule).ok).toBe(false);
  });
});

describe('checkRecurrence cost', () => {
  it.each([
    'FREQ=HOURLY;BYHOUR=9;INTERVAL=5',
    'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO',
    'FREQ=YEARLY;INTERVAL=100',
    'FREQ=DAILY;UNTIL=19700101T000000Z',
    'FREQ=WEEKLY;INTERVAL=9999;BYDAY=SU',
  ])('accepts %s quickly', (rule) => {
    const started = Date.now();
    expect(checkRecurrence(rule).ok).toBe(true);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('refuses rules that never occur without scanning up to year 9999', () => {
    const started = Date.now();
    for (const rule of ['FREQ=DAILY;INTERVAL=2;BYMONTH=2;BYMONTHDAY=30', 'FREQ=HOURLY;INTERVAL=9999;BYHOUR=1;BYMONTHDAY=31;BYMONTH=2']) {
      expect(checkRecurrence(rule).ok).toBe(false);
    }
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe('time zones', () => {
  it('round-trips wall clock across DST in Europe/Paris', () => {
    const summer = new Date('2026-07-01T07:00:00Z'); // 09:00 CEST
    expect(toWallClock(summer, 'Europe/Paris').toISOString()).toBe('2026-07-01T09:00:00.000Z');
    expect(fromWallClock(new Date('2026-07-01T09:00:00Z'), 'Europe/Paris').toISOString()).toBe(summer.toISOString());
    expect(fromWallClock(new Date('2026-12-01T09:00:00Z'), 'Europe/Paris').toISOString()).toBe('2026-12-01T08:00:00.000Z');
  });
});

describe('nextOccurrence', () => {
  it('keeps local time across a DST change', () => {
    const start = new Date('2026-10-24T07:00:00Z'); // Sat 09:00 CEST
    const next = nextOccurrences('FREQ=DAILY', start, 'Europe/Paris', start, 3).map((d) => d.toISOString());
    // 25 Oct 2026 is the switch to CET: 09:00 local becomes 08:00Z.
    expect(next).toEqual(['2026-10-25T08:00:00.000Z', '2026-10-26T08:00:00.000Z', '2026-10-27T08:00:00.000Z']);
  });

  it('counts COUNT from the series start and ends the series', () => {
    const start = new Date('2026-01-05T10:00:00Z');
    const second = nextOccurrence('FREQ=WEEKLY;COUNT=2', start, 'UTC', start);
    expect(second?.toISOString()).toBe('2026-01-12T10:00:00.000Z');
    expect(nextOccurrence('FREQ=WEEKLY;COUNT=2', start, 'UTC', second!)).toBeNull();
  });

  it('honours UNTIL', () => {
    const start = new Date('2026-01-01T10:00:00Z');
    expect(nextOccurrence('FREQ=DAILY;UNTIL=20260102T100000Z', start, 'UTC', new Date('2026-01-02T10:00:00Z'))).toBeNull();
  });

  it('follows BYDAY', () => {
    const start = new Date('2026-11-23T09:00:00Z'); // Monday
    const next = nextOccurrences('FREQ=WEEKLY;BYDAY=MO,WE', start, 'UTC', start, 2).map((d) => d.toISOString());
    expect(next).toEqual(['2026-11-25T09:00:00.000Z', '2026-11-30T09:00:00.000Z']);
  });
});
