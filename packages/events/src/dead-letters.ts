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

/** Records a dead letter in `bus.dead_letters` (in `em`'s transaction) and logs it (DESIGN §4). */
export async function recordDeadLetter(em: EntityManager, logger: Logger, letter: DeadLetter): Promise<void> {
  await executeSql(
    em,
    'insert into bus.dead_letters (consumer_group, topic, event_id, seq, reason, event) values (?, ?, ?, ?, ?, ?::jsonb)',
    [letter.group, letter.topic, letter.eventId ?? null, letter.seq ?? null, letter.reason, JSON.stringify(letter.event ?? null)],
  );
  logger.warn(
    { group: letter.group, topic: letter.topic, eventId: letter.eventId, seq: letter.seq, reason: letter.reason },
    'event dead-lettered',
  );
}
