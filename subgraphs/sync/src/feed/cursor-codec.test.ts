import { CURSOR_PATTERN, createCursorCodec } from './cursor-codec.js';

const codec = createCursorCodec('s'.repeat(40));

describe('cursor codec', () => {
  it('round-trips positions for their user, deterministically, at one fixed length', () => {
    for (const position of [0n, 1n, 2n, 1_000_000n, 2n ** 53n + 1n, 2n ** 63n - 1n]) {
      const cursor = codec.encode('bob', position);
      expect(cursor).toMatch(CURSOR_PATTERN); // 50 characters whatever the magnitude: the length says nothing
      expect(codec.encode('bob', position)).toBe(cursor);
      expect(codec.decode('bob', cursor)).toBe(position);
    }
  });

  it('binds a cursor to its user: another user, an altered cursor or another key decodes to nothing', () => {
    const cursor = codec.encode('alice', 42n);
    expect(codec.decode('bob', cursor)).toBeUndefined();
    expect(codec.decode('alice ', cursor)).toBeUndefined();
    for (let i = 0; i < cursor.length; i++) {
      const flipped = cursor.slice(0, i) + (cursor[i] === 'A' ? 'B' : 'A') + cursor.slice(i + 1);
      expect(codec.decode('alice', flipped)).toBeUndefined();
    }
    expect(createCursorCodec('t'.repeat(40)).decode('alice', cursor)).toBeUndefined();
    expect(codec.decode('alice', 'abc')).toBeUndefined();
    expect(codec.decode('alice', '42')).toBeUndefined();
  });

  it('gives unrelated-looking cursors for neighbouring positions and for the same position of two users', () => {
    const a = codec.encode('bob', 100n);
    const b = codec.encode('bob', 101n);
    const common = [...a].filter((ch, i) => b[i] === ch).length;
    expect(common).toBeLessThan(10); // ~50/64 expected by chance
    expect(codec.encode('alice', 100n)).not.toBe(a);
  });
});
