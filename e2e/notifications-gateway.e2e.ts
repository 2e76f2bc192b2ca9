import { type RunningSystem, startSystem, waitFor } from '@taskgraph/testing';

/** Through the real gateway: Task.reminders joins tasks' Task, Notification.task resolves from tasks. */
let system: RunningSystem;

beforeAll(async () => {
  system = await startSystem({ subgraphs: ['tasks', 'notifications'] });
});

afterAll(async () => {
  await system?.close();
});

describe('notifications through the gateway', () => {
  it('serves Task.reminders and Notification.task across subgraphs, per user', async () => {
    const dueAt = new Date(Date.now() + 1_500);
    const created = await system.graphql<{ createTask: { id: string } }>(
      'mutation($input: CreateTaskInput!) { createTask(input: $input) { id } }',
      { input: { title: 'Ship it', dueAt: dueAt.toISOString(), reminders: [{ offset: 'PT1S' }, { offset: 'PT1H' }] } },
      'alice',
    );
    expect(created.errors).toBeUndefined();
    const id = created.data!.createTask.id;

    const inbox = await waitFor('the reminder in alice’s inbox', async () => {
      const res = await system.graphql<{
        notifications: {
          edges: { node: { title: string; task: { id: string; title: string; reminders: { index: number; status: string }[] } } }[];
        };
      }>('{ notifications { edges { node { title task { id title reminders { index status } } } } } }', {}, 'alice');
      expect(res.errors).toBeUndefined();
      return res.data!.notifications.edges.length > 0 && res.data!.notifications.edges;
    });
    expect(inbox).toEqual([
      {
        node: {
          title: 'Reminder: Ship it',
          task: {
            id,
            title: 'Ship it',
            reminders: [
              { index: 0, status: 'FIRED' },
              { index: 1, status: 'MISSED' },
            ],
          },
        },
      },
    ]);

    const task = await system.graphql<{ task: { reminders: { fireAt: string }[] } }>(
      'query($id: ID!) { task(id: $id) { reminders { fireAt } } }',
      { id },
      'alice',
    );
    expect(task.data!.task.reminders[0]!.fireAt).toBe(new Date(dueAt.getTime() - 1_000).toISOString());
    const bob = await system.graphql<{ unreadNotificationCount: number; task: unknown }>(
      'query($id: ID!) { unreadNotificationCount task(id: $id) { id } }',
      { id },
      'bob',
    );
    expect(bob.data).toEqual({ unreadNotificationCount: 0, task: null });
  });
});
