import type { EntityManager, Logger } from '@taskgraph/runtime';
import { executeSql } from './tx-sql.js';

export interface DeadLetter {
  group: string;
  topic: string;
  eventId: string | undefined;
  seq: string | undefined;
  reason: string;
  /** The event as received (row snapshot or CloudEvent body), when there is one. */
  event: unknown;
}

/**
 * Text Postgres can store: `text` refuses NUL and `jsonb` refuses `\u0000` and unpaired surrogates,
 * which a malformed message may well carry; such characters become U+FFFD.
 */
export function storableText(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what Postgres refuses
  return text.replace(/\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/** `value` with every string and key made storable (see `storableText`). */
function storable(value: unknown): unknown {
  if (typeof value === 'string') return storableText(value);
  if (Array.isArray(value)) return value.map(storable);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [storableText(key), storable(inner)]));
  }
  return value;
}

/**
 * Records a dead letter in `bus.dead_letters` (in `em`'s transaction) and logs it (ARCHITECTURE §4).
 * Whatever the message contains, the record can be stored: a malformed message must be DROPped,
 * never retried forever because its dead letter cannot be written.
 */
export async function recordDeadLetter(em: EntityManager, logger: Logger, letter: DeadLetter): Promise<void> {
  await executeSql(
    em,
    'insert into bus.dead_letters (consumer_group, topic, event_id, seq, reason, event) values (?, ?, ?, ?, ?, ?::jsonb)',
    [
      letter.group,
      letter.topic,
      letter.eventId === undefined ? null : storableText(letter.eventId),
      letter.seq ?? null,
      storableText(letter.reason),
      JSON.stringify(storable(letter.event ?? null)),
    ],
  );
  logger.warn(
    { group: letter.group, topic: letter.topic, eventId: letter.eventId, seq: letter.seq, reason: letter.reason },
    'event dead-lettered',
  );
}
