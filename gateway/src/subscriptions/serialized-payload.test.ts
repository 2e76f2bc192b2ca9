import { rememberJson, serializedPayload, spliceJson } from './serialized-payload.js';

/** What graphql-ws does per client: stringify the message, hand the text to the socket's send. */
const wire = (id: string, payload: unknown) => spliceJson(JSON.stringify({ id, type: 'next', payload }));

describe('serialised-once payloads', () => {
  const result = { data: { taskUpdates: { cursor: '7', title: 'a "quoted" \u2028 title' } } };
  rememberJson(result, JSON.stringify(result));

  it('sends exactly the message graphql-ws would have sent, for every client id', () => {
    for (const id of ['1', 'x"y', '","payload":"\u0001', '\u0001taskgraph-serialized-payload\u0001']) {
      const sent = wire(id, serializedPayload(result));
      expect(sent).toBe(JSON.stringify({ id, type: 'next', payload: result }));
      expect(JSON.parse(sent)).toEqual({ id, type: 'next', payload: result });
    }
  });

  it('leaves results it has not serialised, and other messages, as they are', () => {
    const other = { data: { n: 1 } };
    expect(serializedPayload(other)).toBe(other);
    expect(wire('2', other)).toBe(JSON.stringify({ id: '2', type: 'next', payload: other }));
    expect(spliceJson('{"id":"3","type":"complete"}')).toBe('{"id":"3","type":"complete"}');
  });
});
