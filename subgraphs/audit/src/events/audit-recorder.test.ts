import { fieldChanges } from './audit-recorder.js';

describe('fieldChanges', () => {
  it('lists changes in the task snapshot field order, unknown fields last by name, missing values as null', () => {
    expect(
      fieldChanges({
        zeta: { from: 1, to: 2 },
        tags: { from: [], to: ['a'] },
        alpha: { from: undefined, to: 'x' },
        title: { from: 'a', to: 'b' },
        completedAt: { from: null, to: '2026-11-24T12:00:00.000Z' },
        status: { from: 'OPEN', to: 'DONE' },
      }),
    ).toEqual([
      { field: 'title', from: 'a', to: 'b' },
      { field: 'status', from: 'OPEN', to: 'DONE' },
      { field: 'tags', from: [], to: ['a'] },
      { field: 'completedAt', from: null, to: '2026-11-24T12:00:00.000Z' },
      { field: 'alpha', from: null, to: 'x' },
      { field: 'zeta', from: 1, to: 2 },
    ]);
    expect(fieldChanges(undefined)).toEqual([]);
  });
});
