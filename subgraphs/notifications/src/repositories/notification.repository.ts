import { checkPageSize, type EntityManager, queryRows } from '@taskgraph/runtime';
import { type Notification, NotificationSchema } from '../entities/notification.entity.js';
import { decodeCursor, encodeCursor } from './notification-cursor.js';

export interface NotificationPage {
  edges: { cursor: string; node: Notification }[];
  hasNextPage: boolean;
}

/** Notifications, always scoped to their owner: another user's notification is simply not there. */
export class NotificationRepository {
  constructor(private readonly em: EntityManager) {}

  /**
   * Inserts unless one already exists for (job name, generation): a trigger delivered twice, or
   * racing with itself, notifies once. Returns whether this call inserted it.
   */
  async insertOnce(n: Notification): Promise<boolean> {
    const rows = await queryRows<{ id: string }>(
      this.em,
      `insert into notifications.notification (id, user_id, task_id, kind, title, body, job_name, generation, fire_at, created_at, read_at)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, null)
       on conflict (job_name, generation) do nothing returning id`,
      [n.id, n.userId, n.taskId, n.kind, n.title, n.body, n.jobName, n.generation, n.fireAt, n.createdAt],
    );
    return rows.length === 1;
  }

  async list(userId: string, unreadOnly: boolean, first: number, after: string | null | undefined): Promise<NotificationPage> {
    checkPageSize(first);
    const where = ['user_id = ?'];
    const params: unknown[] = [userId];
    if (unreadOnly) where.push('read_at is null');
    if (after) {
      const cursor = decodeCursor(after);
      where.push('(created_at, id) < (?::timestamptz, ?::uuid)');
      params.push(cursor.createdAt, cursor.id);
    }
    params.push(first + 1);
    const rows = await queryRows<Record<string, unknown>>(
      this.em,
      `select * from notifications.notification where ${where.join(' and ')} order by created_at desc, id desc limit ?`,
      params,
    );
    return {
      hasNextPage: rows.length > first,
      edges: rows.slice(0, first).map((row) => {
        const node = this.em.map(NotificationSchema, row);
        return { cursor: encodeCursor(node.createdAt, node.id), node };
      }),
    };
  }

  async unreadCount(userId: string): Promise<number> {
    const rows = await queryRows<{ n: number }>(
      this.em,
      'select count(*)::int as n from notifications.notification where user_id = ? and read_at is null',
      [userId],
    );
    return rows[0]?.n ?? 0;
  }

  /** Marks one notification read (keeps the first read time); `null` when the user has no such notification. */
  async markRead(userId: string, id: string, now: Date): Promise<Notification | null> {
    const rows = await queryRows<Record<string, unknown>>(
      this.em,
      'update notifications.notification set read_at = coalesce(read_at, ?) where id = ? and user_id = ? returning *',
      [now, id, userId],
    );
    return rows[0] ? this.em.map(NotificationSchema, rows[0]) : null;
  }

  /** Marks every unread notification of the user read; returns how many changed. */
  async markAllRead(userId: string, now: Date): Promise<number> {
    const rows = await queryRows<{ id: string }>(
      this.em,
      'update notifications.notification set read_at = ? where user_id = ? and read_at is null returning id',
      [now, userId],
    );
    return rows.length;
  }
}
