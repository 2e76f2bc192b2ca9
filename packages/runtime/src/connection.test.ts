import { checkPageSize, MAX_PAGE_SIZE, toConnection } from './connection.js';
import { AppError, ErrorCode } from './errors.js';
import { isUuid } from './ids.js';

describe('checkPageSize', () => {
  it('accepts 1..100 and refuses anything else with BAD_USER_INPUT on first', () => {
    expect(() => checkPageSize(1)).not.toThrow();
    expect(() => checkPageSize(MAX_PAGE_SIZE)).not.toThrow();
    for (const bad of [0, -1, MAX_PAGE_SIZE + 1, 1.5, Number.NaN]) {
      let error: unknown;
      try {
        checkPageSize(bad);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({ code: ErrorCode.BAD_USER_INPUT, details: { field: 'first' } });
    }
  });
});

describe('toConnection', () => {
  it('builds Relay pageInfo from the edges, with a previous page exactly when after was given', () => {
    const page = {
      edges: [
        { cursor: 'a', node: 1 },
        { cursor: 'b', node: 2 },
      ],
      hasNextPage: true,
    };
    expect(toConnection(page, 'x')).toEqual({
      edges: page.edges,
      pageInfo: { hasNextPage: true, hasPreviousPage: true, startCursor: 'a', endCursor: 'b' },
    });
    expect(toConnection({ edges: [], hasNextPage: false }, null).pageInfo).toEqual({
      hasNextPage: false,
      hasPreviousPage: false,
      startCursor: null,
      endCursor: null,
    });
  });
});

describe('isUuid', () => {
  it('accepts UUIDs in either case and nothing else', () => {
    expect(isUuid('0b9e6c1e-8f1a-4d2b-9c3d-4e5f60718293')).toBe(true);
    expect(isUuid('0B9E6C1E-8F1A-4D2B-9C3D-4E5F60718293')).toBe(true);
    for (const bad of ['', 'x', '0b9e6c1e-8f1a-4d2b-9c3d-4e5f6071829', ' 0b9e6c1e-8f1a-4d2b-9c3d-4e5f60718293', "1' or '1'='1"])
      expect(isUuid(bad)).toBe(false);
  });
});
