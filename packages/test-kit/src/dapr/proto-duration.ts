/**
 * Parses a protobuf-JSON `google.protobuf.Duration` (`5s`, `0.2s`, `-1.5s`: seconds, at most nine
 * fractional digits, an `s` suffix) as Go's protojson decoder does, in milliseconds; undefined when
 * protojson would refuse it (e.g. the Go duration `200ms`).
 */
export function parseProtoJsonDuration(text: string): number | undefined {
  const match = /^([-+])?(0|[1-9]\d*)?(?:\.(\d{1,9}))?s$/.exec(text);
  if (!match || (match[2] === undefined && match[3] === undefined)) return undefined;
  const seconds = Number(match[2] ?? 0);
  // protojson's range: ±315,576,000,000 s (10,000 years).
  if (seconds > 315_576_000_000) return undefined;
  const nanos = Number((match[3] ?? '').padEnd(9, '0'));
  const ms = seconds * 1_000 + nanos / 1e6;
  return match[1] === '-' ? -ms : ms;
}
