/**
 * Wall-clock ↔ instant conversion in an IANA zone with `Intl`, so recurrences keep their local
 * time across DST changes (daily 09:00 Europe/Paris stays 09:00 local in summer and winter).
 */

export function isValidTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** The local wall-clock time of `instant` in `zone`, encoded as a Date whose UTC fields are that wall clock. */
export function toWallClock(instant: Date, zone: string): Date {
  const parts = Object.fromEntries(
    formatter(zone)
      .formatToParts(instant)
      .map((p) => [p.type, p.value]),
  );
  return new Date(
    Date.UTC(
      Number(parts.year),
      Number(parts.month) - 1,
      Number(parts.day),
      Number(parts.hour),
      Number(parts.minute),
      Number(parts.second),
      instant.getUTCMilliseconds(),
    ),
  );
}

/** The instant whose wall clock in `zone` is `wallClock` (UTC fields); in a DST gap, the later valid instant. */
export function fromWallClock(wallClock: Date, zone: string): Date {
  let guess = wallClock.getTime();
  for (let i = 0; i < 3; i++) {
    const offset = toWallClock(new Date(guess), zone).getTime() - guess;
    const next = wallClock.getTime() - offset;
    if (next === guess) break;
    guess = next;
  }
  return new Date(guess);
}
