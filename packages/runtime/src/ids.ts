const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Whether `id` is a UUID (any version, either case). Ids of tasks, notifications and events are UUIDs:
 * anything else cannot name one, so lookups answer "not found" without querying (a non-UUID would
 * also make Postgres reject the `uuid` parameter).
 */
export const isUuid = (id: string): boolean => UUID.test(id);
