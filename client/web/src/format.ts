import type { ReminderInput } from '@taskgraph/client';

/** `2026-11-24T09:00:00Z` → the reader's local date and time. */
export const formatDateTime = (iso: string): string => new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** ISO instant → `<input type="datetime-local">` value in the browser's time zone. */
export function toLocalInput(iso: string | null | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  return new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

/** `<input type="datetime-local">` value (browser time zone) → ISO instant, or null when empty. */
export const fromLocalInput = (value: string): string | null => (value ? new Date(value).toISOString() : null);

/** `"work, home ,"` → `['work', 'home']`. */
export const parseList = (value: string): string[] =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);

/** Reminder rules typed as a list: ISO-8601 durations before the due date (`PT15M`) or absolute times. */
export const parseReminders = (value: string): ReminderInput[] =>
  parseList(value).map((item) => (/^P/i.test(item) ? { offset: item.toUpperCase() } : { at: new Date(item).toISOString() }));

export const formatReminder = (rule: { offset?: string | null; at?: string | null }): string =>
  rule.offset ? `${rule.offset} before` : rule.at ? formatDateTime(rule.at) : '?';

/** The browser's IANA time zone (recurrence and due dates are interpreted in it). */
export const browserTimeZone = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone;
