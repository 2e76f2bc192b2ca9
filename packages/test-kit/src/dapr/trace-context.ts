import { randomBytes } from 'node:crypto';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * The context of a span daprd starts as a child of `parent` (a W3C `traceparent`): same trace id and
 * flags, its own span id; a new sampled trace when there is no valid parent. daprd does this on
 * publish (the CloudEvent's `traceparent`/`traceid`/`tracestate` are replaced by its span's, as
 * components-contrib `FromCloudEvent` does) and on every delivery (the `traceparent` header).
 */
export function daprChildTraceparent(parent: string | undefined): string {
  const match = parent ? TRACEPARENT.exec(parent.trim()) : null;
  const spanId = randomBytes(8).toString('hex');
  if (!match) return `00-${randomBytes(16).toString('hex')}-${spanId}-01`;
  return `00-${match[1]}-${spanId}-${match[3]}`;
}
