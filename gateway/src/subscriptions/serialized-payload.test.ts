import type { Duplex } from 'node:stream';
import { eventually } from '@taskgraph/testing';
import { stringifyMessage } from 'graphql-ws';
import * as ws from 'ws';
import { type SocketPair, socketPair } from '../fixtures/socket-pair.js';
import { ConnectionState } from './connection-state.js';
import { frameBytes, SerializedResult, SHARED_BODY_BYTES } from './serialized-payload.js';

type FrameOptions = { fin: boolean; rsv1: boolean; opcode: number; mask: boolean; readOnly: boolean };
const { Sender } = ws as unknown as { Sender: { frame(data: Buffer, options: FrameOptions): Buffer[] } };

/** What graphql-ws + ws write for a `next` message: `stringifyMessage`, then `WebSocket#send` of the text (no compression). */
const graphqlWs = (message: Record<string, unknown>) => stringifyMessage(message as unknown as Parameters<typeof stringifyMessage>[0]);
const graphqlWsFrame = (id: string, payload: unknown) =>
  Buffer.concat(
    Sender.frame(Buffer.from(graphqlWs({ id, type: 'next', payload })), {
      fin: true,
      rsv1: false,
      opcode: 1,
      mask: false,
      readOnly: false,
    }),
  );

const IDS = ['1', 'x"y', '","payload":"\u0001', 'subscription-\u2028-ü-🚀', 'a'.repeat(300)];

const result = (padding: number) => ({
  data: { taskUpdates: { cursor: '7', title: 'a "quoted" \u2028 tïtle', padding: 'x'.repeat(padding) } },
});
/** The padding at which the message of subscription `1` is `bytes` long. */
const messageOf = (bytes: number) => bytes - Buffer.byteLength(graphqlWs({ id: '1', type: 'next', payload: result(0) }));
/** Exactly at every frame-header length boundary (125/126 and 65535/65536 bytes) and around the shared-body threshold. */
const PADDINGS = [
  0,
  messageOf(125),
  messageOf(126),
  messageOf(65_535),
  messageOf(65_536),
  70_000,
  SHARED_BODY_BYTES - 80,
  SHARED_BODY_BYTES,
];

describe('serialised-once results', () => {
  it('frames every `next` message exactly as graphql-ws and ws would, for every id and size', () => {
    let compared = 0;
    for (const padding of PADDINGS) {
      const payload = result(padding);
      const serialized = new SerializedResult(JSON.stringify(payload));
      expect(serialized.bytes).toBe(Buffer.byteLength(JSON.stringify(payload)));
      for (const id of IDS) {
        const frame = serialized.frame(id);
        expect(frameBytes(frame).equals(graphqlWsFrame(id, payload))).toBe(true);
        // Built once per distinct id; large bodies are shared, not copied per id.
        expect(serialized.frame(id)).toBe(frame);
        expect(Buffer.isBuffer(frame)).toBe(Buffer.byteLength(JSON.stringify(payload)) + 26 < SHARED_BODY_BYTES);
        compared++;
      }
    }
    expect(compared).toBe(PADDINGS.length * IDS.length);
    const lengths = PADDINGS.map((padding) => frameBytes(new SerializedResult(JSON.stringify(result(padding))).frame('1'))[1]);
    // The boundaries were hit: 7-bit length 125, then 126 (16-bit), 65535 (16-bit: 126) and 65536 (64-bit: 127).
    expect(lengths.slice(1, 5)).toEqual([125, 126, 126, 127]);
  });

  describe('on a real socket', () => {
    let pair: SocketPair;
    beforeEach(async () => {
      pair = await socketPair();
    });
    afterEach(() => pair.close());

    const received = (raw: Duplex) => {
      const chunks: Buffer[] = [];
      raw.on('data', (chunk: Buffer) => chunks.push(chunk));
      return () => Buffer.concat(chunks);
    };

    it('puts the same bytes on the wire as graphql-ws sending through ws, interleaved in call order', async () => {
      const bytes = received(pair.clientRaw);
      const texts: string[] = [];
      pair.client.on('message', (data) => texts.push(String(data)));
      const connection = new ConnectionState('alice', pair.server, undefined, {
        raw: pair.serverRaw,
        limits: { maxBufferedMessages: 100, maxBufferedBytes: 1024 * 1024 },
      });
      const small = result(10);
      const large = result(70_000);
      const expected: Buffer[] = [];
      for (const [id, payload] of [
        ['1', small],
        ['x"y', large],
      ] as const) {
        // ws' own send (what graphql-ws did for every client), then the pre-built frame.
        pair.server.send(graphqlWs({ id, type: 'next', payload }));
        connection.write(new SerializedResult(JSON.stringify(payload)).frame(id));
        expected.push(graphqlWsFrame(id, payload), graphqlWsFrame(id, payload));
      }
      pair.server.send(graphqlWs({ id: '1', type: 'complete' }));
      await eventually(() => texts.length === 5, 5_000, 'five messages');
      const wire = bytes();
      const all = Buffer.concat(expected);
      expect(wire.subarray(0, all.length).equals(all)).toBe(true);
      expect(texts.map((t) => JSON.parse(t).id)).toEqual(['1', '1', 'x"y', 'x"y', '1']);
      expect(texts[4]).toBe('{"id":"1","type":"complete"}');
    });
  });
});
