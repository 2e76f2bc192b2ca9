import { parse } from 'graphql';
import { measureOperations } from './limits.js';

const measure = (query: string) => measureOperations(parse(query)).map((o) => ({ name: o.name, ...o.cost }));

describe('measureOperations', () => {
  it('counts depth, aliases and fields per operation, through fragments', () => {
    expect(
      measure(`
        query A { x: tasks { edges { node { id ...T } } } }
        query B { me }
        fragment T on Task { title y: owner { name } }
      `),
    ).toEqual([
      { name: 'A', depth: 5, aliases: 2, fields: 7 },
      { name: 'B', depth: 1, aliases: 0, fields: 1 },
    ]);
  });

  it('measures a fragment bomb at its expanded size in linear time', () => {
    const defs = ['fragment F0 on T { a b c }'];
    for (let i = 1; i <= 60; i++) defs.push(`fragment F${i} on T { ...F${i - 1} ...F${i - 1} }`);
    const started = Date.now();
    const [op] = measure(`{ t { ...F60 } } ${defs.join(' ')}`);
    expect(op?.fields).toBe(1 + 3 * 2 ** 60);
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('terminates on fragment cycles (the standard rules report them)', () => {
    expect(measure('{ t { ...A } } fragment A on T { x ...B } fragment B on T { y ...A }')).toEqual([
      { name: '(anonymous)', depth: 2, aliases: 0, fields: 3 },
    ]);
  });

  it('does not count introspection subtrees', () => {
    expect(measure('{ __schema { types { fields { type { ofType { ofType { name } } } } } } me }')).toEqual([
      { name: '(anonymous)', depth: 1, aliases: 0, fields: 1 },
    ]);
  });
});
