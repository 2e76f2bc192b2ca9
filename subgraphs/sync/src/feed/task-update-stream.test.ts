import type { TaskUpdate } from '../entities/task-update.entity.js';
import type { FeedPosition, TaskUpdateMatch, TaskUpdateRepository } from '../repositories/task-update.repository.js';
import { LiveHub } from './live-hub.js';
import { openTaskUpdateStream, type TaskUpdateStreamOptions } from './task-update-stream.js';

const USER = 'u1';
const ALL: TaskUpdateMatch = { taskIds: null, tags: null };

const row = (cursor: number, userId = USER): TaskUpdate => ({
  cursor: String(cursor),
  eventId: `e${cursor}`,
  userId,
  taskId: `t${cursor % 3}`,
  op: 'UPDATED',
  version: cursor,
  changedFields: [],
  tags: [],
  occurredAt: new Date(0),
});

/** The window table in memory; `commit` stores then publishes, like the ingest handler after commit. */
class FakeFeed {
  readonly table: TaskUpdate[] = [];
  readonly hub = new LiveHub<TaskUpdate>();
  reads = 0;
  /** Runs inside the next page read (concurrent commits while the replay queries). */
  duringRead: (() => void) | undefined;
  position: FeedPosition = { head: 0n, userPrunedThrough: 0n, userNewest: 0n, completeFrom: 0n };

  commit(...cursors: number[]): void {
    for (const cursor of cursors) {
      const update = row(cursor);
      this.table.push(update);
      this.position.head = BigInt(cursor);
      this.hub.publish(update.userId, update);
    }
  }

  store(...cursors: number[]): void {
    for (const cursor of cursors) this.table.push(row(cursor));
    this.position.head = BigInt(cursors.at(-1) ?? 0);
  }

  repository = (): TaskUpdateRepository =>
    ({
      page: async (_userId: string, after: bigint, _match: TaskUpdateMatch, limit: number) => {
        this.reads++;
        const hook = this.duringRead;
        this.duringRead = undefined;
        const rows = this.table.filter((r) => BigInt(r.cursor) > after).slice(0, limit);
        hook?.();
        return rows;
      },
      position: async () => ({ ...this.position }),
      prunedThrough: async () => this.position.userPrunedThrough,
    }) as unknown as TaskUpdateRepository;

  options(overrides: Partial<TaskUpdateStreamOptions> = {}): TaskUpdateStreamOptions {
    return {
      hub: this.hub,
      repository: this.repository,
      userId: USER,
      match: ALL,
      after: 0n,
      queueSize: 3,
      pageSize: 4,
      onEnd: () => {},
      ...overrides,
    };
  }
}

async function take(stream: AsyncIterator<TaskUpdate>, n: number): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n) {
    const next = await Promise.race([
      stream.next(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`stalled after ${JSON.stringify(out)}`)), 1_000).unref()),
    ]);
    if (next.done) break;
    out.push(Number(next.value.cursor));
  }
  return out;
}

describe('taskUpdates stream (gap-free seam)', () => {
  it('replays after the cursor, then drains the buffer without duplicates, then goes live', async () => {
    const feed = new FakeFeed();
    feed.store(1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
    // Commits that land while the first page is being read: both in the table and in the buffer.
    feed.duringRead = () => feed.commit(11, 12);
    const stream = await openTaskUpdateStream(feed.options({ after: 3n, queueSize: 10 }));
    expect(await take(stream, 9)).toEqual([4, 5, 6, 7, 8, 9, 10, 11, 12]);
    feed.commit(13);
    expect(await take(stream, 1)).toEqual([13]);
    await stream.return?.();
  });

  it('re-reads the table when the buffer overflowed after the last page (nothing lost)', async () => {
    const feed = new FakeFeed();
    feed.store(1, 2);
    const stream = await openTaskUpdateStream(feed.options({ after: 0n, queueSize: 3, pageSize: 4 }));
    expect(await take(stream, 1)).toEqual([1]); // the short (last) page was read
    feed.commit(3, 4, 5, 6, 7); // 5 > 3 slots while still replaying: buffer dropped
    expect(await take(stream, 6)).toEqual([2, 3, 4, 5, 6, 7]);
    expect(feed.reads).toBeGreaterThanOrEqual(2);
    feed.commit(8);
    expect(await take(stream, 1)).toEqual([8]);
    await stream.return?.();
  });

  it('drops a live subscriber that falls behind with UNAVAILABLE and unregisters it', async () => {
    const feed = new FakeFeed();
    let ended = 0;
    const stream = await openTaskUpdateStream(feed.options({ after: undefined, onEnd: () => ended++ }));
    feed.commit(1, 2, 3, 4); // 4 > 3 while live and nobody reading
    expect(feed.hub.size).toBe(0);
    await expect(stream.next()).rejects.toMatchObject({ code: 'UNAVAILABLE', details: { reason: 'SLOW_CONSUMER' } });
    expect(ended).toBe(1);
  });

  it('without a cursor, starts at the head: older events arriving late are skipped', async () => {
    const feed = new FakeFeed();
    feed.store(1, 2, 3);
    const stream = await openTaskUpdateStream(feed.options({ after: undefined }));
    feed.hub.publish(USER, row(2)); // a lagging consumer re-publishing an old one
    feed.commit(4);
    expect(await take(stream, 1)).toEqual([4]);
    await stream.return?.();
  });

  it('releases the listener at once when the client completes while waiting', async () => {
    const feed = new FakeFeed();
    let ended = 0;
    const stream = await openTaskUpdateStream(feed.options({ after: undefined, onEnd: () => ended++ }));
    const pending = stream.next();
    expect(feed.hub.size).toBe(1);
    await stream.return?.();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(feed.hub.size).toBe(0);
    expect(ended).toBe(1);
  });

  it('refuses a pruned cursor with RESYNC_REQUIRED before streaming anything', async () => {
    const feed = new FakeFeed();
    feed.store(10, 11);
    feed.position.userPrunedThrough = 9n;
    let ended = 0;
    await expect(openTaskUpdateStream(feed.options({ after: 8n, onEnd: () => ended++ }))).rejects.toMatchObject({
      code: 'RESYNC_REQUIRED',
      details: { oldestCursor: '9' },
    });
    expect(feed.hub.size).toBe(0);
    expect(ended).toBe(1);
    const fromWatermark = await openTaskUpdateStream(feed.options({ after: 9n }));
    expect(await take(fromWatermark, 2)).toEqual([10, 11]);
    await fromWatermark.return?.();
  });

  it('fails with RESYNC_REQUIRED when rows after its position are pruned during the replay', async () => {
    const feed = new FakeFeed();
    feed.store(1, 2, 3, 4, 5, 6);
    const stream = await openTaskUpdateStream(feed.options({ after: 0n, pageSize: 2, queueSize: 10 }));
    expect(await take(stream, 2)).toEqual([1, 2]);
    // The pruner deletes 3 and 4 (and raises the watermark) before the next page is read.
    feed.table.splice(2, 2);
    feed.position.userPrunedThrough = 4n;
    await expect(stream.next()).rejects.toMatchObject({ code: 'RESYNC_REQUIRED', details: { oldestCursor: '4' } });
    expect(feed.hub.size).toBe(0);
  });

  it('only ever sees its own user’s events', async () => {
    const feed = new FakeFeed();
    const stream = await openTaskUpdateStream(feed.options({ after: undefined }));
    feed.hub.publish('someone-else', row(1, 'someone-else'));
    feed.commit(2);
    expect(await take(stream, 1)).toEqual([2]);
    await stream.return?.();
  });
});
