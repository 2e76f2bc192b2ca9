import { randomUUID } from 'node:crypto';
import { ensureBusSchema, sleep } from '@taskgraph/events';
import { type Database, openDatabase } from '@taskgraph/runtime';
import { createTestDatabase, type TestDatabase } from '@taskgraph/test-kit';
import { type TaskUpdate, TaskUpdateSchema } from '../entities/task-update.entity.js';
import { UserWatermarkSchema } from '../entities/user-watermark.entity.js';
import { logger } from '../fixtures/sync-harness.js';
import { migrations } from '../migrations/index.js';
import { LiveHub } from './live-hub.js';
import { OrderedRelease } from './ordered-release.js';

let testDb: TestDatabase;
let db: Database;

const exec = (sql: string, params: unknown[] = []) => db.fork().getConnection().execute(sql, params);

/** A task-updates record in the log; `publishedAgoMs` undefined = not relayed yet. */
async function logged(seq: number, publishedAgoMs?: number): Promise<void> {
  const id = randomUUID();
  await exec(
    `insert into bus.outbox (seq, id, topic, key, type, data, occurred_at, published_at)
     values (?, ?, 'task-updates', ?, 'taskgraph.task.updated.v1', '{}'::jsonb, now(), ${publishedAgoMs === undefined ? 'null' : 'now() - make_interval(secs => ?)'})`,
    publishedAgoMs === undefined ? [seq, id, id] : [seq, id, id, publishedAgoMs / 1000],
  );
}

async function stored(seq: number): Promise<void> {
  await exec(
    `insert into sync.task_update (cursor, event_id, user_id, task_id, op, version, changed_fields, tags, occurred_at)
     values (?, ?, 'u1', ?, 'UPDATED', 1, '{title}', '{work}', now())`,
    [seq, randomUUID(), randomUUID()],
  );
}

function release(hub: LiveHub<TaskUpdate>, holdMs = 60_000) {
  return new OrderedRelease({ db, hub, logger, holdMs, pollMs: 50 });
}

async function collect(hub: LiveHub<TaskUpdate>): Promise<{ got: TaskUpdate[] }> {
  const box = { got: [] as TaskUpdate[] };
  hub.listen('u1', (u) => box.got.push(u));
  return box;
}

const cursors = (box: { got: TaskUpdate[] }) => box.got.map((u) => Number(u.cursor));

beforeAll(async () => {
  testDb = await createTestDatabase('sync_release');
  await ensureBusSchema(testDb.url);
  db = await openDatabase({ url: testDb.url, schema: 'sync', entities: [TaskUpdateSchema, UserWatermarkSchema], migrations, logger });
});

afterAll(async () => {
  await db?.close();
  await testDb?.drop();
});

beforeEach(async () => {
  await exec('truncate bus.outbox, sync.task_update');
});

describe('ordered release (dapr mode live publishing)', () => {
  it('publishes stored updates in log order, waiting for one still in flight', async () => {
    const hub = new LiveHub<TaskUpdate>();
    const box = await collect(hub);
    const r = release(hub);
    for (const seq of [101, 102, 103]) await logged(seq, 0);
    await stored(102);
    await stored(103);
    r.start(100n);
    await sleep(200);
    expect(cursors(box)).toEqual([]);
    expect(r.horizon).toBe(100n);
    await stored(101);
    r.wake();
    await sleep(150);
    expect(cursors(box)).toEqual([101, 102, 103]);
    expect(r.horizon).toBe(103n);
    expect(box.got[0]).toMatchObject({ userId: 'u1', op: 'UPDATED', changedFields: ['title'], tags: ['work'] });
    expect(box.got[0]!.occurredAt).toBeInstanceOf(Date);
    await r.close();
  });

  it('gives up on an update published long ago that nobody stored, and never on one not yet relayed', async () => {
    const hub = new LiveHub<TaskUpdate>();
    const box = await collect(hub);
    const r = release(hub, 500);
    await logged(201, 5_000); // relayed 5 s ago, never stored (dead-lettered)
    await logged(202, 0);
    await stored(202);
    await logged(203); // not relayed yet
    await logged(204, 0);
    await stored(204);
    r.start(200n);
    await sleep(250);
    expect(cursors(box)).toEqual([202]);
    expect(r.horizon).toBe(202n);
    await stored(203);
    r.wake();
    await sleep(150);
    expect(cursors(box)).toEqual([202, 203, 204]);
    await r.close();
  });

  it('falls back to cursor order when the log is not visible from sync’s database', async () => {
    const hub = new LiveHub<TaskUpdate>();
    const box = await collect(hub);
    const r = release(hub);
    await stored(302);
    await stored(301);
    r.start(300n);
    await sleep(200);
    expect(cursors(box)).toEqual([301, 302]);
    await r.close();
  });
});
