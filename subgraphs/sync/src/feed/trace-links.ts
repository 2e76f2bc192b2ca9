/**
 * The trace context each stored update was consumed in (its `task-updates` consumer span), kept in
 * memory by event id so a live push can hand it to the gateway (graphql-ws `next`
 * `extensions.traceparent`) and the gateway's delivery span joins the mutation's trace
 * (ARCHITECTURE §8). Bounded: the oldest links go first; a replayed update older than that is
 * simply delivered without a link.
 */
const MAX_LINKS = 10_000;
const links = new Map<string, string>();

/** Remembers the trace context `eventId` was consumed in (no-op without one). */
export function noteTraceLink(eventId: string, traceparent: string | undefined): void {
  if (!traceparent) return;
  links.set(eventId, traceparent);
  if (links.size > MAX_LINKS) links.delete(links.keys().next().value as string);
}

/** The trace context `eventId` was consumed in, if still known. */
export const traceLinkOf = (eventId: string): string | undefined => links.get(eventId);
