import { entryFromRow } from './audit-entry.repository.js';

describe('entryFromRow', () => {
  const row = {
    id: '7d0f5a52-36a8-4c0e-9a43-5f1f9d3c2a10',
    seq: '42',
    event_id: '0b8a3c1e-1f7d-4e55-8d0c-2b8f6f7a9e01',
    task_id: '3f2b7c9d-5a1e-4d6f-8b2c-1e9f0a7d6c54',
    user_id: 'alice',
    action: 'UPDATED',
    actor: 'alice',
    occurred_at: '2026-11-24 03:12:30.270123+00',
    recorded_at: '2026-11-24 03:12:30.5+00',
    version: 3,
    changes: [{ field: 'title', from: 'a', to: 'b' }],
    snapshot: { title: 'b' },
  };

  it('maps a driver row (timestamptz as text, jsonb parsed) to an AuditEntry', () => {
    expect(entryFromRow(row)).toEqual({
      id: row.id,
      seq: '42',
      eventId: row.event_id,
      taskId: row.task_id,
      userId: 'alice',
      action: 'UPDATED',
      actor: 'alice',
      occurredAt: new Date('2026-11-24T03:12:30.270Z'),
      recordedAt: new Date('2026-11-24T03:12:30.500Z'),
      version: 3,
      changes: [{ field: 'title', from: 'a', to: 'b' }],
      snapshot: { title: 'b' },
    });
  });

  it('accepts Date values, JSON text and a null snapshot', () => {
    const entry = entryFromRow({
      ...row,
      seq: 7,
      occurred_at: new Date('2026-01-01T00:00:00Z'),
      changes: '[]',
      snapshot: null,
    });
    expect(entry.seq).toBe('7');
    expect(entry.occurredAt.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(entry.changes).toEqual([]);
    expect(entry.snapshot).toBeNull();
  });
});
