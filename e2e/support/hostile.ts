import fc from 'fast-check';

/** Codes a rejected input may carry: the caller's fault, stated (ARCHITECTURE §6 registry + Apollo's input codes). */
export const INPUT_CODES = new Set([
  'BAD_USER_INPUT',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'NOT_FOUND',
  'CONFLICT',
  'PERSISTED_QUERY_NOT_FOUND',
  'OPERATION_RESOLUTION_FAILURE',
  // Demand control refuses hostile sizes (e.g. first: 2147483647) before they run.
  'COST_LIMIT_EXCEEDED',
]);

const nasty = [
  '',
  ' ',
  '\u0000',
  'null',
  'undefined',
  "'; drop table tasks.task; --",
  '" or 1=1 --',
  '<script>alert(1)</script>',
  '../../../../etc/passwd',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a Log4Shell-style payload, literally
  '${jndi:ldap://127.0.0.1/a}',
  '{{7*7}}',
  '%s%s%s%n',
  '\u202e\u0631\u0644',
  '𝕋𝕒𝕤𝕜 🧨',
  '\ud800',
  'a'.repeat(10_000),
];

/** Strings an attacker would try, plus random ones (any unit, control characters, long). */
export const hostileString = (maxLength = 300): fc.Arbitrary<string> =>
  fc.oneof(
    fc.constantFrom(...nasty),
    fc.string({ maxLength }),
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ unit: 'grapheme', maxLength }),
  );

/** Date-time strings: valid, edge, impossible and junk. */
export const hostileDate: fc.Arbitrary<unknown> = fc.oneof(
  fc
    .date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2200-01-01T00:00:00Z'), noInvalidDate: true })
    .map((d) => d.toISOString()),
  fc.constantFrom(
    '0000-00-00T00:00:00Z',
    '1969-12-31T23:59:59Z',
    '9999-12-31T23:59:59Z',
    '10000-01-01T00:00:00Z',
    '2026-02-30T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-01-01T25:61:61Z',
    '2026-01-01',
    '2026-01-01T00:00:00',
    '2026-01-01T00:00:00+99:99',
    'NaN',
    '',
    'now',
  ),
  fc.integer(),
  fc.double(),
  hostileString(40),
);

/** RRULEs: supported, borderline, known-expensive for `rrule` (impossible dates, unreachable BYHOUR), junk. */
export const HOSTILE_RRULES = [
  'FREQ=DAILY',
  'FREQ=WEEKLY;BYDAY=MO,WE,FR',
  'FREQ=SECONDLY',
  'FREQ=MINUTELY;INTERVAL=1',
  'FREQ=HOURLY;INTERVAL=2;BYHOUR=1',
  'FREQ=HOURLY;INTERVAL=24;BYHOUR=1',
  'FREQ=HOURLY;INTERVAL=9999;BYHOUR=1;BYMONTHDAY=31;BYMONTH=2',
  'FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30',
  'FREQ=DAILY;BYMONTH=2;BYMONTHDAY=31',
  'FREQ=DAILY;INTERVAL=2;BYMONTH=2;BYMONTHDAY=30',
  'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30',
  'FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=4,6,9,11',
  'FREQ=YEARLY;BYYEARDAY=366;BYMONTH=1',
  'FREQ=YEARLY;BYWEEKNO=53;BYMONTH=1;BYMONTHDAY=1',
  'FREQ=DAILY;COUNT=99999',
  'FREQ=DAILY;UNTIL=19700101T000000Z',
  'FREQ=DAILY;INTERVAL=0',
  'FREQ=DAILY;INTERVAL=-1',
  'FREQ=DAILY;BYSETPOS=9999;BYDAY=MO',
  'FREQ=MONTHLY;BYDAY=+53MO',
  'FREQ=DAILY;DTSTART=20260101T000000Z',
  'FREQ=DAILY\nFREQ=HOURLY',
  `FREQ=DAILY;${'BYHOUR=1;'.repeat(100)}`,
  'RRULE:FREQ=DAILY;WKST=XX',
];

export const hostileRrule: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...HOSTILE_RRULES),
  fc
    .tuple(
      fc.constantFrom('YEARLY', 'MONTHLY', 'WEEKLY', 'DAILY', 'HOURLY', 'MINUTELY', 'SECONDLY', 'FORTNIGHTLY'),
      fc.array(
        fc.tuple(
          fc.constantFrom('INTERVAL', 'COUNT', 'BYHOUR', 'BYMONTH', 'BYMONTHDAY', 'BYDAY', 'BYSETPOS', 'BYYEARDAY', 'BYWEEKNO', 'UNTIL'),
          fc.oneof(fc.integer({ min: -400, max: 10_000 }).map(String), fc.constantFrom('MO', '1MO', '-1FR', '20261231T000000Z', 'x')),
        ),
        { maxLength: 4 },
      ),
    )
    .map(([freq, parts]) => [`FREQ=${freq}`, ...parts.map(([k, v]) => `${k}=${v}`)].join(';')),
  hostileString(80),
);

/** ISO-8601 durations, valid and not. */
export const hostileDuration: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom('PT15M', 'P1D', 'PT0S', 'P1000000Y', 'PT-5M', '-PT5M', 'P', 'PT', 'P1Y2M3W4DT5H6M7.5S', 'P9999999999999999999D', '15m'),
  fc
    .tuple(fc.nat(100_000), fc.constantFrom('S', 'M', 'H', 'D', 'W', 'Y'))
    .map(([n, u]) => (['S', 'M', 'H'].includes(u) ? `PT${n}${u}` : `P${n}${u}`)),
  hostileString(30),
);

/** A `CreateTaskInput`-shaped value with hostile fields (some absent, some of the wrong type). */
export const hostileTaskInput: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    title: fc.oneof(hostileString(), fc.constant(null), fc.integer()),
    notes: fc.oneof(hostileString(2_000), fc.constant(null)),
    priority: fc.oneof(fc.constantFrom('LOW', 'MEDIUM', 'HIGH', 'URGENT'), hostileString(10)),
    tags: fc.oneof(fc.array(hostileString(60), { maxLength: 60 }), hostileString(10)),
    dueAt: hostileDate,
    timeZone: fc.oneof(
      fc.constantFrom('UTC', 'Europe/Paris', 'America/New_York', 'Mars/Olympus', 'Etc/GMT+14', 'utc', '+01:00'),
      hostileString(40),
    ),
    recurrence: hostileRrule,
    reminders: fc.array(
      fc.record(
        { offset: fc.oneof(hostileDuration, fc.constant(null)), at: fc.oneof(hostileDate, fc.constant(null)) },
        { requiredKeys: [] },
      ),
      { maxLength: 15 },
    ),
  },
  { requiredKeys: ['title'] },
);
