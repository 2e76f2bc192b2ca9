import {
  MarkAllNotificationsReadDocument,
  MarkNotificationReadDocument,
  type NotificationFieldsFragment,
  NotificationReceivedDocument,
  NotificationsDocument,
  type TaskgraphClient,
  UnreadNotificationCountDocument,
} from '@taskgraph/client';
import { h, mount } from './dom.js';
import { formatDateTime, humanizeInstants } from './format.js';

/**
 * The notification badge (unread count) and its inbox panel. The count comes from
 * `unreadNotificationCount` and rises live with `notificationReceived` (reminders as they fire).
 */
export function startNotifications(client: TaskgraphClient, badgeSlot: HTMLElement, panelSlot: HTMLElement, onError: (e: unknown) => void) {
  let unread = 0;
  let open = false;

  const renderBadge = () =>
    mount(
      badgeSlot,
      h(
        'button',
        {
          type: 'button',
          class: 'badge',
          'data-testid': 'notification-badge',
          'aria-label': `${unread} unread notifications`,
          onclick: toggle,
        },
        'Inbox',
        h('span', { class: 'count', 'data-testid': 'notification-count', 'data-count': unread }, String(unread)),
      ),
    );

  async function refreshCount() {
    try {
      unread = (await client.query(UnreadNotificationCountDocument)).unreadNotificationCount;
      renderBadge();
    } catch (error) {
      onError(error);
    }
  }

  async function renderPanel() {
    if (!open) return mount(panelSlot);
    try {
      const data = await client.query(NotificationsDocument, { first: 20 });
      unread = data.unreadNotificationCount;
      renderBadge();
      const items = data.notifications.edges.map((e) => e.node);
      mount(
        panelSlot,
        h(
          'section',
          { class: 'notifications', 'data-testid': 'notifications-panel' },
          h(
            'header',
            null,
            h('h2', null, 'Notifications'),
            h('button', { type: 'button', onclick: markAll, disabled: unread === 0 }, 'Mark all read'),
          ),
          items.length === 0
            ? h('p', { class: 'empty' }, 'Nothing yet: reminders appear here when they fire.')
            : h('ol', null, items.map(item)),
        ),
      );
    } catch (error) {
      onError(error);
    }
  }

  const item = (n: NotificationFieldsFragment) =>
    h(
      'li',
      { 'data-testid': 'notification', class: n.readAt ? 'read' : 'unread' },
      h('strong', null, n.title),
      ` ${humanizeInstants(n.body)} · ${formatDateTime(n.fireAt)} `,
      n.readAt ? null : h('button', { type: 'button', onclick: () => void markRead(n.id) }, 'Mark read'),
    );

  function toggle() {
    open = !open;
    void renderPanel();
  }
  async function markRead(id: string) {
    try {
      await client.mutate(MarkNotificationReadDocument, { id });
      await renderPanel();
    } catch (error) {
      onError(error);
    }
  }
  async function markAll() {
    try {
      await client.mutate(MarkAllNotificationsReadDocument);
      await renderPanel();
    } catch (error) {
      onError(error);
    }
  }

  renderBadge();
  void refreshCount();
  const feed = client.subscribe(NotificationReceivedDocument, {
    next: () => {
      unread += 1;
      renderBadge();
      void renderPanel();
    },
    // Not live (e.g. no subscriptions yet): the badge still shows the count as of page load.
    error: () => {},
  });
  return { stop: () => feed.unsubscribe() };
}
