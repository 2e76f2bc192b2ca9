import { AppError } from '@taskgraph/runtime';
import { validateCreate, validateUpdate } from './task-input.js';

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return error instanceof AppError ? `${error.code}:${String(error.details.field)}` : 'other';
  }
  return 'none';
};

describe('validateCreate', () => {
  it('normalises a valid input', () => {
    const fields = validateCreate({ title: '  Buy milk ', tags: ['home', 'home', ' shop '], dueAt: new Date('2026-12-01T10:00:00Z') });
    expect(fields).toMatchObject({ title: 'Buy milk', tags: ['home', 'shop'], priority: 'MEDIUM', notes: null });
  });

  it.each([
    [{ title: '' }, 'BAD_USER_INPUT:title'],
    [{ title: '   ' }, 'BAD_USER_INPUT:title'],
    [{ title: 'x'.repeat(501) }, 'BAD_USER_INPUT:title'],
    [{ title: 'ok', notes: 'n'.repeat(20_001) }, 'BAD_USER_INPUT:notes'],
    [{ title: 'ok', tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }, 'BAD_USER_INPUT:tags'],
    [{ title: 'ok', tags: [''] }, 'BAD_USER_INPUT:tags'],
    [{ title: 'ok', recurrence: 'FREQ=NOPE', dueAt: new Date() }, 'BAD_USER_INPUT:recurrence'],
    [{ title: 'ok', recurrence: 'FREQ=DAILY' }, 'BAD_USER_INPUT:recurrence'],
    [{ title: 'ok', timeZone: 'Mars/Olympus' }, 'BAD_USER_INPUT:timeZone'],
    [{ title: 'ok', dueAt: new Date('2026-12-01T10:00:00Z'), reminders: [{ offset: 'P1Y' }] }, 'BAD_USER_INPUT:reminders'],
    [{ title: 'ok', dueAt: new Date('2026-12-01T10:00:00Z'), reminders: [{ offset: 'soon' }] }, 'BAD_USER_INPUT:reminders'],
    [{ title: 'ok', reminders: [{ offset: 'PT15M' }] }, 'BAD_USER_INPUT:reminders'],
    [
      { title: 'ok', dueAt: new Date('2026-12-01T10:00:00Z'), reminders: [{ at: new Date('2026-12-02T10:00:00Z') }] },
      'BAD_USER_INPUT:reminders',
    ],
    [
      { title: 'ok', dueAt: new Date('2026-12-01T10:00:00Z'), reminders: Array.from({ length: 11 }, () => ({ offset: 'PT1M' })) },
      'BAD_USER_INPUT:reminders',
    ],
    [
      { title: 'ok', dueAt: new Date('2026-12-01T10:00:00Z'), reminders: [{ offset: 'PT1M', at: new Date('2026-12-01T09:00:00Z') }] },
      'BAD_USER_INPUT:reminders',
    ],
  ])('refuses %#', (input, expected) => {
    expect(codeOf(() => validateCreate(input))).toBe(expected);
  });
});

describe('validateUpdate', () => {
  const current = validateCreate({ title: 'a', notes: 'n', dueAt: new Date('2026-12-01T10:00:00Z'), reminders: [{ offset: 'PT5M' }] });

  it('keeps absent fields and clears null ones', () => {
    const next = validateUpdate(current, { notes: null, title: 'b' });
    expect(next).toMatchObject({ title: 'b', notes: null, dueAt: current.dueAt });
  });

  it('refuses clearing the due date while offset reminders need it', () => {
    expect(codeOf(() => validateUpdate(current, { dueAt: null }))).toBe('BAD_USER_INPUT:reminders');
  });

  it('refuses a null title', () => {
    expect(codeOf(() => validateUpdate(current, { title: null }))).toBe('BAD_USER_INPUT:title');
  });
});
