import { invalidRulesReason, type PlanInput, planReminders, type ReminderState } from './reminder-plan.js';

const now = new Date('2026-12-01T10:00:00.000Z');
const due = new Date('2026-12-01T11:00:00.000Z');
const at = (iso: string) => new Date(iso);
const base: PlanInput = { rules: [], dueAt: due, active: true, version: 2, existing: [], now, graceMs: 60_000 };
const stored = (n: number, fireAt: string | null, status: ReminderState['status'], generation = 1): ReminderState => ({
  n,
  fireAt: fireAt ? at(fireAt) : null,
  status,
  generation,
});

describe('planReminders', () => {
  it('schedules future reminders with the event version as generation', () => {
    const plan = planReminders({ ...base, rules: [{ offset: 'PT15M' }, { at: '2026-12-01T10:30:00Z' }] });
    expect(plan.reminders.map((r) => [r.action, r.status, r.fireAt?.toISOString(), r.generation])).toEqual([
      ['schedule', 'SCHEDULED', '2026-12-01T10:45:00.000Z', 2],
      ['schedule', 'SCHEDULED', '2026-12-01T10:30:00.000Z', 2],
    ]);
    expect(plan.unschedule).toEqual([]);
  });

  it('keeps an unchanged reminder, overwrites a moved one, deletes the job of a removed one', () => {
    const plan = planReminders({
      ...base,
      rules: [{ offset: 'PT15M' }, { offset: 'PT30M' }],
      existing: [
        stored(0, '2026-12-01T10:45:00Z', 'SCHEDULED'),
        stored(1, '2026-12-01T10:40:00Z', 'SCHEDULED'),
        stored(2, '2026-12-01T10:50:00Z', 'SCHEDULED'),
      ],
    });
    expect(plan.reminders.map((r) => [r.action, r.generation])).toEqual([
      ['keep', 1],
      ['schedule', 2],
    ]);
    expect(plan.removed).toEqual([2]);
    expect(plan.unschedule).toEqual([2]);
  });

  it('fires just-passed reminders, misses long-passed ones (grace window), never schedules the past', () => {
    const plan = planReminders({
      ...base,
      rules: [{ at: '2026-12-01T09:59:30Z' }, { at: '2026-12-01T09:58:59Z' }, { at: now.toISOString() }],
    });
    expect(plan.reminders.map((r) => [r.action, r.status])).toEqual([
      ['fire', 'FIRED'],
      ['miss', 'MISSED'],
      ['fire', 'FIRED'],
    ]);
  });

  it('cancels scheduled reminders of a done task and keeps fired ones', () => {
    const plan = planReminders({
      ...base,
      active: false,
      rules: [{ offset: 'PT15M' }, { at: '2026-12-01T09:00:00Z' }],
      existing: [stored(0, '2026-12-01T10:45:00Z', 'SCHEDULED'), stored(1, '2026-12-01T09:00:00Z', 'FIRED')],
    });
    expect(plan.reminders.map((r) => [r.action, r.status])).toEqual([
      ['cancel', 'CANCELLED'],
      ['keep', 'FIRED'],
    ]);
    expect(plan.unschedule).toEqual([0]);
  });

  it('re-arms cancelled future reminders when the task is reopened', () => {
    const plan = planReminders({
      ...base,
      version: 4,
      rules: [{ offset: 'PT15M' }, { at: '2026-12-01T09:00:00Z' }],
      existing: [stored(0, '2026-12-01T10:45:00Z', 'CANCELLED'), stored(1, '2026-12-01T09:00:00Z', 'CANCELLED')],
    });
    expect(plan.reminders.map((r) => [r.action, r.status, r.generation])).toEqual([
      ['schedule', 'SCHEDULED', 4],
      ['miss', 'MISSED', 4],
    ]);
  });

  it('cancels an offset reminder when the due date is cleared', () => {
    const plan = planReminders({
      ...base,
      dueAt: null,
      rules: [{ offset: 'PT15M' }],
      existing: [stored(0, '2026-12-01T10:45:00Z', 'SCHEDULED')],
    });
    expect(plan.reminders.map((r) => [r.action, r.fireAt])).toEqual([['cancel', null]]);
    expect(plan.unschedule).toEqual([0]);
  });
});

describe('invalidRulesReason', () => {
  it('accepts valid rules and names the bad ones', () => {
    expect(invalidRulesReason([{ offset: 'PT15M' }, { at: '2026-12-01T10:00:00Z' }])).toBeUndefined();
    expect(invalidRulesReason([{ offset: 'PT15M' }, { offset: 'soon' }])).toMatch(/reminder 1: offset "soon"/);
    expect(invalidRulesReason([{ offset: 'PT0S' }])).toMatch(/positive/);
    expect(invalidRulesReason([{ offset: 'P1M' }])).toMatch(/not a positive ISO-8601 duration/);
    expect(invalidRulesReason(Array.from({ length: 11 }, () => ({ offset: 'PT1M' })))).toMatch(/at most 10/);
  });
});
