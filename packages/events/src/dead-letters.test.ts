import { storableText } from './dead-letters.js';

describe('storableText', () => {
  it('replaces what Postgres text/jsonb refuse (NUL, unpaired surrogates) and keeps the rest', () => {
    expect(storableText('a\u0000b\ud800c😀\udc00 ok')).toBe('a\ufffdb\ufffdc😀\ufffd ok');
    expect(storableText('plain')).toBe('plain');
  });
});
