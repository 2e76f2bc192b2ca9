import type { FormattedExecutionResult } from 'graphql';

/**
 * Serialise a pipeline result once for all its subscribers (fan-out): graphql-ws stringifies
 * `{ id, type: "next", payload }` for every client, which re-serialised the same payload once per
 * subscriber. Instead the pipeline remembers the JSON it already computed (`rememberJson`);
 * graphql-ws's `onNext` hands back a stand-in (`serializedPayload`) whose `toJSON` yields a marker
 * string, so each client's stringify only writes its id; the socket's `send` (`spliceJson`) then
 * swaps the marker at the message's end for the shared JSON text.
 *
 * The stand-in passes the JSON to `spliceJson` through `handoff`: graphql-ws stringifies the
 * message and passes it to the socket's `send` in one synchronous step, so nothing can run between.
 */
const MARKER = '\u0001taskgraph-serialized-payload\u0001';
/** How the stringified message ends: `payload` is its last key, and a client-chosen id cannot contain an unescaped quote. */
const SUFFIX = `,"payload":${JSON.stringify(MARKER)}}`;

const serialized = new WeakMap<object, SerializedPayload>();
let handoff: string | undefined;

class SerializedPayload {
  constructor(readonly json: string) {}
  toJSON(): string {
    handoff = this.json;
    return MARKER;
  }
}

/** Records `json` (= `JSON.stringify(result)`) as the serialisation of `result` for every subscriber. */
export function rememberJson(result: FormattedExecutionResult, json: string): void {
  serialized.set(result, new SerializedPayload(json));
}

/** What graphql-ws should send as the payload of `result`: the shared serialisation when there is one. */
export function serializedPayload(result: FormattedExecutionResult): FormattedExecutionResult {
  return (serialized.get(result) as unknown as FormattedExecutionResult | undefined) ?? result;
}

/** A stringified graphql-ws message with the marker replaced by the shared JSON (others unchanged). */
export function spliceJson(data: string): string {
  const json = handoff;
  if (json === undefined || !data.endsWith(SUFFIX)) return data;
  handoff = undefined;
  return `${data.slice(0, -SUFFIX.length)},"payload":${json}}`;
}
