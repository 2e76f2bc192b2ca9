/**
 * A pipeline result serialised and framed once for every subscriber (fan-out). Each subscriber
 * gets the graphql-ws message `{"id":<id>,"type":"next","payload":<result>}` as one unmasked,
 * uncompressed WebSocket text frame; the frames of one result differ only in the client's
 * subscription id. So the JSON of the result is computed once (`JSON.stringify(result)` by the
 * pipeline), the part after the id (`,"type":"next","payload":<json>}`) is encoded once, and the
 * complete frame is built once per distinct id (usually one: clients number their subscriptions
 * alike) and written to every socket as it is (`ConnectionState.write`).
 *
 * The bytes are exactly those graphql-ws (`stringifyMessage`: `JSON.stringify` of
 * `{ id, type, payload }`, no replacer) and ws (`WebSocket#send` of that string, permessage-deflate
 * off) would write; `serialized-payload.test.ts` compares them with ws' own frames on a real socket.
 */

/** What is written for one subscriber: one buffer, or a header (+ id) and the shared body. */
export type Frame = Buffer | readonly [head: Buffer, body: Buffer];

/** Results whose body is at least this large are not copied per distinct id: the body is written shared. */
export const SHARED_BODY_BYTES = 16 * 1024;

const TAIL_START = ',"type":"next","payload":';
/** Bytes around the JSON in the tail: `,"type":"next","payload":` and the closing `}`. */
const TAIL_OVERHEAD = Buffer.byteLength(TAIL_START) + 1;
/** FIN + text opcode (RFC 6455 §5.2); server frames are never masked, and nothing is compressed. */
const FIN_TEXT = 0x81;

/** Length of the frame header for a payload of `length` bytes (RFC 6455 §5.2). */
const headerLength = (length: number) => (length < 126 ? 2 : length < 65_536 ? 4 : 10);

/** Writes the header of an unmasked final text frame of `length` payload bytes at the start of `target`. */
function writeHeader(target: Buffer, length: number): number {
  target[0] = FIN_TEXT;
  if (length < 126) {
    target[1] = length;
    return 2;
  }
  if (length < 65_536) {
    target[1] = 126;
    target.writeUInt16BE(length, 2);
    return 4;
  }
  target[1] = 127;
  target.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
  target.writeUInt32BE(length >>> 0, 6);
  return 10;
}

export class SerializedResult {
  /** Serialised size of the result (its JSON, in bytes). */
  readonly bytes: number;
  /** `,"type":"next","payload":<json>}`: the same for every subscriber. */
  private readonly tail: Buffer;
  private lastId: string | undefined;
  private lastFrame: Frame | undefined;
  /** Frames of other ids (built on the second distinct id). */
  private others: Map<string, Frame> | undefined;

  /** `json` must be `JSON.stringify(result)`. */
  constructor(json: string) {
    this.tail = Buffer.from(`${TAIL_START}${json}}`);
    this.bytes = this.tail.length - TAIL_OVERHEAD;
  }

  /** The frame of the `next` message for subscription `id` (built once per distinct id). */
  frame(id: string): Frame {
    if (id === this.lastId && this.lastFrame) return this.lastFrame;
    if (this.lastFrame === undefined) {
      this.lastId = id;
      this.lastFrame = this.build(id);
      return this.lastFrame;
    }
    this.others ??= new Map();
    let frame = this.others.get(id);
    if (!frame) {
      frame = this.build(id);
      this.others.set(id, frame);
    }
    return frame;
  }

  private build(id: string): Frame {
    const prefix = `{"id":${JSON.stringify(id)}`;
    const prefixBytes = Buffer.byteLength(prefix);
    const length = prefixBytes + this.tail.length;
    if (this.tail.length >= SHARED_BODY_BYTES) {
      const head = Buffer.allocUnsafe(headerLength(length) + prefixBytes);
      head.write(prefix, writeHeader(head, length));
      return [head, this.tail];
    }
    const frame = Buffer.allocUnsafe(headerLength(length) + length);
    const offset = writeHeader(frame, length);
    frame.write(prefix, offset);
    this.tail.copy(frame, offset + prefixBytes);
    return frame;
  }
}

/** The bytes of a frame (tests, diagnostics). */
export const frameBytes = (frame: Frame): Buffer => (Buffer.isBuffer(frame) ? frame : Buffer.concat(frame));
