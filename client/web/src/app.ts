import {
  CompleteTaskDocument,
  CreateTaskDocument,
  createTaskgraphClient,
  DeleteTaskDocument,
  ReopenTaskDocument,
  TaskDocument,
  type TaskFieldsFragment,
  type TaskFilter,
  type TaskgraphClient,
  TaskgraphError,
  TaskHistoryDocument,
  type TaskOrder,
  TaskRemindersDocument,
  TasksDocument,
  UpdateTaskDocument,
} from '@taskgraph/client';
import { byId, h, mount } from './dom.js';
import { filtersForm } from './filters.js';
import { historyPanel } from './history-panel.js';
import { startLiveFeed, type TaskUpdate } from './live.js';
import { startNotifications } from './notifications.js';
import type { Session } from './session.js';
import { describeChanges, mergeDraft } from './task-diff.js';
import { describeError, type TaskDraft, taskForm } from './task-form.js';
import { taskList } from './task-list.js';

const PAGE_SIZE = 25;

/** The signed-in page: filters, list, create/edit, history, live updates from other tabs. */
export function startApp(root: HTMLElement, session: Session, signOut: () => void): void {
  const client: TaskgraphClient = createTaskgraphClient({
    url: new URL('/graphql', location.href).href,
    token: session.token,
    onConnectionChange: (state) => setLive(state === 'connected' ? 'live' : state === 'connecting' ? 'connecting' : 'offline'),
  });

  let tasks: TaskFieldsFragment[] = [];
  let endCursor: string | null = null;
  let hasNextPage = false;
  let filter: TaskFilter = {};
  let orderBy: TaskOrder = 'CREATED_AT_DESC';
  let loadSeq = 0;
  let historyTaskId: string | undefined;
  const fresh = new Set<string>();

  mount(
    root,
    h(
      'header',
      { class: 'topbar' },
      h('h1', null, 'taskgraph'),
      h('span', { id: 'live', class: 'live', 'data-testid': 'live-status', 'data-state': 'connecting' }, 'connecting…'),
      h('span', { id: 'badge-slot' }),
      h('span', { class: 'user', 'data-testid': 'signed-in-user' }, session.userId),
      h('button', { type: 'button', onclick: signOut }, 'Sign out'),
    ),
    h('p', { id: 'banner', class: 'banner', role: 'alert', hidden: true }),
    h('section', { id: 'editor', class: 'card' }),
    h('section', { class: 'card' }, filtersForm(applyFilters), h('div', { id: 'list' }), h('div', { id: 'more' })),
    h('aside', { id: 'notifications' }),
    h('aside', { id: 'history' }),
  );

  // --- state → DOM -------------------------------------------------------------------------
  let feedFailed = false;
  function setLive(state: 'connecting' | 'live' | 'offline' | 'unavailable', detail?: string) {
    // Once the feed has ended for good, socket state changes (the lazy socket closes) say nothing new.
    if (feedFailed && state !== 'unavailable') return;
    feedFailed = state === 'unavailable';
    const live = byId('live');
    live.dataset.state = state;
    live.textContent =
      state === 'live' ? '● live' : state === 'unavailable' ? `live updates unavailable${detail ? ` (${detail})` : ''}` : `${state}…`;
  }
  function showError(error: unknown) {
    const banner = byId('banner');
    banner.textContent = describeError(error);
    banner.hidden = false;
    setTimeout(() => {
      banner.hidden = true;
    }, 8_000);
  }
  function renderList() {
    mount(byId('list'), taskList(tasks, { toggle, edit, history: (t) => void showHistory(t.id), remove }, fresh));
    mount(
      byId('more'),
      hasNextPage ? h('button', { type: 'button', 'data-testid': 'load-more', onclick: () => void loadTasks(true) }, 'Load more') : null,
    );
  }
  function renderEditor(task?: TaskFieldsFragment, kept?: { draft: TaskDraft; notice: string }) {
    mount(
      byId('editor'),
      h('h2', null, task ? `Edit “${task.title}”` : 'New task'),
      taskForm(
        task,
        {
          submit: async (input) => {
            if (!task) {
              upsert((await client.mutate(CreateTaskDocument, { input })).createTask, true);
              return;
            }
            try {
              const { updateTask } = await client.mutate(UpdateTaskDocument, { id: task.id, input, expectedVersion: task.version });
              upsert(updateTask);
              renderEditor();
            } catch (error) {
              if (!(error instanceof TaskgraphError) || error.code !== 'CONFLICT') throw error;
              await recoverFromConflict(task, input);
            }
          },
          cancel: () => renderEditor(),
        },
        kept ?? {},
      ),
    );
  }
  /**
   * Someone changed the task while it was being edited: load the latest version, keep every value
   * the user typed, say what the other change was, and let Save apply the edits over it.
   */
  async function recoverFromConflict(stale: TaskFieldsFragment, draft: TaskDraft) {
    const { task: latest } = await client.query(TaskDocument, { id: stale.id });
    if (!latest) {
      tasks = tasks.filter((t) => t.id !== stale.id);
      renderList();
      renderEditor();
      showError(new TaskgraphError([{ message: 'deleted', extensions: { code: 'NOT_FOUND' } }]));
      return;
    }
    upsert(latest);
    const changed = describeChanges(stale, latest);
    renderEditor(latest, {
      draft: mergeDraft(stale, latest, draft),
      notice: `Someone else changed this task while you were editing${changed ? ` (${changed})` : ''}. Your edits are kept: Save applies them over version ${latest.version}, Cancel keeps theirs.`,
    });
  }

  // --- data --------------------------------------------------------------------------------
  async function loadTasks(more = false) {
    const seq = ++loadSeq;
    try {
      const { tasks: page } = await client.query(TasksDocument, { filter, orderBy, first: PAGE_SIZE, after: more ? endCursor : null });
      if (seq !== loadSeq) return; // a newer load (filter change, live reload) won
      const nodes = page.edges.map((e) => e.node);
      tasks = more ? [...tasks, ...nodes.filter((n) => !tasks.some((t) => t.id === n.id))] : nodes;
      endCursor = page.pageInfo.endCursor ?? null;
      hasNextPage = page.pageInfo.hasNextPage;
      renderList();
    } catch (error) {
      showError(error);
    }
  }
  function applyFilters(next: { filter: TaskFilter; orderBy: TaskOrder }) {
    filter = next.filter;
    orderBy = next.orderBy;
    void loadTasks();
  }
  /** Puts a task the server returned into the list; a task the list does not show yet reloads it (filter and order are the server's). */
  function upsert(task: TaskFieldsFragment, created = false) {
    const index = tasks.findIndex((t) => t.id === task.id);
    if (index >= 0) {
      if ((tasks[index]?.version ?? 0) <= task.version) tasks[index] = task;
      renderList();
    } else if (created) {
      void loadTasks();
    }
  }
  async function toggle(task: TaskFieldsFragment) {
    try {
      const variables = { id: task.id, expectedVersion: task.version };
      const next =
        task.status === 'DONE'
          ? (await client.mutate(ReopenTaskDocument, variables)).reopenTask
          : (await client.mutate(CompleteTaskDocument, variables)).completeTask;
      upsert(next);
      if (filter.status) void loadTasks();
    } catch (error) {
      showError(error);
      void loadTasks(); // CONFLICT: someone changed it; show the current state
    }
  }
  function edit(task: TaskFieldsFragment) {
    renderEditor(task);
    byId('editor').scrollIntoView({ block: 'nearest' });
  }
  async function remove(task: TaskFieldsFragment) {
    try {
      await client.mutate(DeleteTaskDocument, { id: task.id, expectedVersion: task.version });
      tasks = tasks.filter((t) => t.id !== task.id);
      renderList();
    } catch (error) {
      showError(error);
    }
  }
  async function showHistory(taskId: string) {
    historyTaskId = taskId;
    try {
      const [{ task }, { task: withReminders }] = await Promise.all([
        client.query(TaskHistoryDocument, { id: taskId, first: 50 }),
        client.query(TaskRemindersDocument, { id: taskId }),
      ]);
      if (historyTaskId !== taskId) return;
      const close = () => {
        historyTaskId = undefined;
        mount(byId('history'));
      };
      mount(
        byId('history'),
        task
          ? historyPanel(
              task.title,
              (task.history?.edges ?? []).map((e) => e.node),
              withReminders?.reminders ?? [],
              close,
            )
          : null,
      );
    } catch (error) {
      showError(error);
    }
  }

  // --- live updates from other tabs and devices ----------------------------------------------
  function onUpdate(update: TaskUpdate) {
    if (update.op === 'DELETED' || !update.task) {
      tasks = tasks.filter((t) => t.id !== update.taskId);
      renderList();
    } else {
      fresh.add(update.taskId);
      setTimeout(() => {
        fresh.delete(update.taskId);
        renderList();
      }, 2_000);
      // With a filter the server decides whether the task still belongs in the list.
      if (Object.keys(filter).length > 0) void loadTasks();
      else upsert(update.task, true);
    }
    // Audit records the same change from its own event: give it a moment before re-reading history.
    if (historyTaskId === update.taskId) setTimeout(() => void showHistory(update.taskId), 500);
  }
  renderEditor();
  startNotifications(client, byId('badge-slot'), byId('notifications'), showError);
  startLiveFeed(client, {
    load: () => loadTasks(),
    update: onUpdate,
    failed: (error) => setLive('unavailable', error.code),
  });
}
