/**
 * The web page in a real browser (Debian chromium via playwright-core) against the whole system:
 * every subgraph, the real gateway serving `/app/` and `/dev/token`, real Postgres. Two tabs of the
 * same user: what one tab changes appears in the other through the gateway's federated
 * subscriptions, without a reload. Screenshots go to `artifacts/` (UPDATE_SCREENSHOT=1 also
 * refreshes `docs/screenshot.png`).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_TRUSTED_DOCUMENTS_PATH, loadTrustedDocumentsManifest } from '@taskgraph/gateway';
import { type RunningSystem, startSystem } from '@taskgraph/testing';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

/** Debian's chromium (.ci/run installs it); playwright-core never downloads a browser here. */
const CHROMIUM = '/usr/bin/chromium';
/** What this machine's chromium needs headless as root, on a closed network (machine notes). */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const ROOT = process.cwd();
const ARTIFACTS = join(ROOT, 'artifacts');

let system: RunningSystem;
let browser: Browser;
let context: BrowserContext;
const timings: Record<string, number> = {};

beforeAll(async () => {
  const started = performance.now();
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: apt-get install -y chromium (.ci/run does this)`);
  // The page the gateway serves at /app/ (client/web/dist), built from the sources under test.
  execFileSync(process.execPath, [join(ROOT, 'client', 'web', 'build.mjs')], { stdio: 'pipe' });
  mkdirSync(ARTIFACTS, { recursive: true });
  [system, browser] = await Promise.all([
    startSystem({ gateway: { nodeEnv: 'development' } }),
    chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS }),
  ]);
  context = await browser.newContext({ viewport: { width: 1100, height: 820 }, timezoneId: 'UTC', locale: 'en-GB' });
  timings.startup = Math.round(performance.now() - started);
}, 120_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await system?.close();
  if (Object.keys(timings).length > 0) console.log(`browser e2e timings (ms): ${JSON.stringify(timings)}`);
});

const appUrl = () => new URL('/app/', system.gatewayUrl).href;

/** Opens the page in a new tab; signs in as `user` when the tab is not signed in yet (tabs of a context share localStorage). */
async function openApp(user = 'alice', in_ = context): Promise<Page> {
  const page = await in_.newPage();
  page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
  await page.goto(appUrl());
  const signin = page.getByTestId('signin-form');
  const signedIn = page.getByTestId('signed-in-user');
  await signin.or(signedIn).waitFor();
  if (await signin.isVisible()) {
    await page.getByTestId('signin-user').fill(user);
    await page.getByTestId('signin-submit').click();
  }
  await expectText(signedIn, user);
  return page;
}

async function expectText(locator: ReturnType<Page['getByTestId']>, text: string, timeout = 10_000): Promise<void> {
  await locator.filter({ hasText: text }).first().waitFor({ timeout });
}

const row = (page: Page, title: string) => page.getByTestId('task-row').filter({ has: page.getByText(title, { exact: true }) });

interface ApiTask {
  id: string;
  title: string;
  status: string;
  priority: string;
  tags: string[];
  dueAt: string | null;
  recurrence: string | null;
  version: number;
  reminderRules: { offset: string | null }[];
}
const TASK_FIELDS = 'id title status priority tags dueAt recurrence version reminderRules { offset }';

async function apiTasks(search: string): Promise<ApiTask[]> {
  const res = await system.graphql<{ tasks: { edges: { node: ApiTask }[] } }>(
    `query($s: String) { tasks(filter: { search: $s }, first: 50) { edges { node { ${TASK_FIELDS} } } } }`,
    { s: search },
    'alice',
  );
  expect(res.errors).toBeUndefined();
  return res.data!.tasks.edges.map((e) => e.node);
}

async function apiTask(id: string): Promise<ApiTask | null> {
  const res = await system.graphql<{ task: ApiTask | null }>(`query($id: ID!) { task(id: $id) { ${TASK_FIELDS} } }`, { id }, 'alice');
  expect(res.errors).toBeUndefined();
  return res.data!.task;
}

async function waitUntil(check: () => Promise<boolean>, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('web page', () => {
  it('signs in, creates a task with every field, edits, completes, filters and shows its history', async () => {
    const started = performance.now();
    const page = await openApp();

    // Create with due date, priority, tags, recurrence and reminders.
    await page.getByTestId('task-title').fill('Plan the sprint');
    await page.getByTestId('task-priority').selectOption('HIGH');
    await page.getByTestId('task-tags').fill('work, planning');
    await page.getByTestId('task-due').fill('2030-01-07T09:00');
    await page.getByTestId('task-recurrence').fill('FREQ=WEEKLY');
    await page.getByTestId('task-reminders').fill('PT15M, P1D');
    await page.getByTestId('task-save').click();
    const created = row(page, 'Plan the sprint');
    await created.waitFor();
    await expectText(created, '#planning');
    await expectText(created, '↻ FREQ=WEEKLY');
    await expectText(created, '2 reminders');
    const [task] = await apiTasks('Plan the sprint');
    expect(task).toMatchObject({
      priority: 'HIGH',
      tags: ['work', 'planning'],
      dueAt: '2030-01-07T09:00:00.000Z',
      recurrence: 'FREQ=WEEKLY',
      reminderRules: [{ offset: 'PT15M' }, { offset: 'P1D' }],
      status: 'OPEN',
      version: 1,
    });

    // Edit, then complete (by id from here on: the next occurrence will carry the same title).
    const taskRow = page.locator(`[data-task-id="${task!.id}"]`);
    await taskRow.getByTestId('task-edit').click();
    await page.getByTestId('task-title').fill('Plan the sprint (v2)');
    await page.getByTestId('task-save').click();
    await expectText(taskRow.getByTestId('task-row-title'), 'Plan the sprint (v2)');
    await taskRow.getByTestId('task-toggle').check();
    await page.locator(`.task.done[data-task-id="${task!.id}"]`).waitFor();
    expect(await apiTask(task!.id)).toMatchObject({ title: 'Plan the sprint (v2)', status: 'DONE', version: 3 });
    // Completing a recurring task makes the recurrence worker create the next occurrence.
    let next: ApiTask | undefined;
    await waitUntil(async () => {
      next = (await apiTasks('Plan the sprint')).find((t) => t.status === 'OPEN');
      return next !== undefined;
    });
    expect(next).toMatchObject({ title: 'Plan the sprint (v2)', dueAt: '2030-01-14T09:00:00.000Z', recurrence: 'FREQ=WEEKLY' });

    // Filters: the done task leaves the "open" list, which has the next occurrence; "done" + search finds it.
    const doneRow = taskRow;
    const nextRow = page.locator(`[data-task-id="${next!.id}"]`);
    await page.getByTestId('filter-status').selectOption('OPEN');
    await nextRow.waitFor();
    await doneRow.waitFor({ state: 'detached' });
    await page.getByTestId('filter-status').selectOption('DONE');
    await page.getByTestId('filter-search').fill('sprint');
    await doneRow.waitFor();
    await nextRow.waitFor({ state: 'detached' });
    await page.getByTestId('filter-status').selectOption('');
    await page.getByTestId('filter-search').fill('');
    await nextRow.waitFor();

    // History (audit records asynchronously from its events: re-open until all three are there).
    const entries = page.getByTestId('history-entry');
    for (let attempt = 0; attempt < 40 && (await entries.count()) < 3; attempt++) {
      await doneRow.getByTestId('task-history').click();
      await page.waitForTimeout(250);
    }
    expect(await entries.evaluateAll((els) => els.map((el) => el.getAttribute('data-action')))).toEqual([
      'COMPLETED',
      'UPDATED',
      'CREATED',
    ]);
    await expectText(page.getByTestId('history-panel'), 'Plan the sprint → Plan the sprint (v2)');

    // Notification badge: the unread count from the notifications subgraph.
    await expect(page.getByTestId('notification-count').getAttribute('data-count')).resolves.toBe('0');
    await page.screenshot({ path: join(ARTIFACTS, 'browser-features.png'), fullPage: true });
    // biome-ignore lint/suspicious/noUndeclaredEnvVars: a manual switch for refreshing the README screenshot, not a build input
    if (process.env.UPDATE_SCREENSHOT === '1') copyFileSync(join(ARTIFACTS, 'browser-features.png'), join(ROOT, 'docs', 'screenshot.png'));
    await page.close();
    timings.features = Math.round(performance.now() - started);
  });

  it('shows a task created in one tab in another tab of the same user, live, without reload', async () => {
    const started = performance.now();
    const [tabA, tabB] = [await openApp(), await openApp()];
    const live = tabB.getByTestId('live-status');
    // Once B's list is shown, B has fixed its feed position (syncRetention.latestCursor, read before
    // the list): whatever A does from now on reaches B, even before B's subscription is upstream.
    await tabB.getByTestId('task-list').or(tabB.getByTestId('task-list-empty')).waitFor();
    await tabB.locator('[data-testid="live-status"][data-state="live"]').waitFor({ timeout: 15_000 });

    await tabB.evaluate(() => {
      (window as unknown as { notReloaded: boolean }).notReloaded = true;
    });
    // Act in A as a user would: A in front (a background tab gets no animation frames, which
    // Playwright's actionability checks wait for); B keeps running in the background.
    await tabA.bringToFront();
    await tabA.getByTestId('task-title').fill('Made in tab A');
    await tabA.getByTestId('task-tags').fill('live');
    await tabA.getByTestId('task-save').click();
    await row(tabA, 'Made in tab A').waitFor();
    const arrived = performance.now();
    await row(tabB, 'Made in tab A').waitFor({ timeout: 10_000 });
    timings.liveCreateMs = Math.round(performance.now() - arrived);

    // An update made in A changes B's row in place (the event carries the task).
    const completing = performance.now();
    await row(tabA, 'Made in tab A').getByTestId('task-toggle').check();
    await tabB.locator('.task.done').filter({ hasText: 'Made in tab A' }).waitFor({ timeout: 10_000 });
    timings.liveCompleteMs = Math.round(performance.now() - completing);

    expect(await tabB.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    expect(await live.getAttribute('data-state')).toBe('live');
    await tabB.screenshot({ path: join(ARTIFACTS, 'browser-live.png') });
    timings.live = Math.round(performance.now() - started);
  });

  it('raises the notification badge live when a reminder fires, and marks it read', async () => {
    const started = performance.now();
    const own = await browser.newContext({ timezoneId: 'UTC', locale: 'en-GB' }); // another user: its own storage
    const page = await openApp('dana', own);
    const count = page.getByTestId('notification-count');
    await page.locator('[data-testid="live-status"][data-state="live"]').waitFor({ timeout: 15_000 });
    expect(await count.getAttribute('data-count')).toBe('0');

    // A reminder two seconds from now: notifications schedules it, fires it, and sync pushes it.
    const now = Date.now();
    const res = await system.graphql(
      'mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }',
      {
        i: {
          title: 'Call the plumber',
          dueAt: new Date(now + 60_000).toISOString(),
          reminders: [{ at: new Date(now + 2_000).toISOString() }],
        },
      },
      'dana',
    );
    expect(res.errors).toBeUndefined();
    await page.locator('[data-testid="notification-count"][data-count="1"]').waitFor({ timeout: 15_000 });
    timings.reminderToBadgeMs = Math.round(performance.now() - started);

    await page.getByTestId('notification-badge').click();
    await expectText(page.getByTestId('notification'), 'Call the plumber');
    await page.getByRole('button', { name: 'Mark all read' }).click();
    await page.locator('[data-testid="notification-count"][data-count="0"]').waitFor();
    await own.close();
  });

  it('takes due times in the task time zone from a Berlin browser, explains bad input by its field, and keeps edits across a conflict', async () => {
    const started = performance.now();
    const berlin = await browser.newContext({ viewport: { width: 1100, height: 820 }, timezoneId: 'Europe/Berlin', locale: 'en-GB' });
    const missing: string[] = [];
    berlin.on('response', (response) => {
      if (response.status() === 404) missing.push(response.url());
    });
    const page = await openApp('erin', berlin);
    const api = async (query: string, variables: Record<string, unknown>) => {
      const res = await system.graphql<Record<string, { id: string } & Record<string, unknown>>>(query, variables, 'erin');
      expect(res.errors).toBeUndefined();
      return res.data!;
    };

    // 09:00 in New York, typed in a Berlin browser, is 14:00Z in January (not 08:00Z, Berlin's 09:00).
    await page.getByTestId('task-title').fill('Call New York');
    await page.getByTestId('task-due').fill('2030-01-07T09:00');
    await page.getByTestId('task-time-zone').fill('America/New_York');
    // A reminder the page cannot read is explained next to its field, in words, and nothing is sent.
    await page.getByTestId('task-reminders').fill('15 minutes');
    await page.getByTestId('task-save').click();
    const reminderError = page.getByTestId('field-error-reminders');
    await expectText(reminderError, '“15 minutes” is not a reminder');
    expect(await reminderError.textContent()).not.toMatch(/Invalid time value|BAD_USER_INPUT/);
    await page.getByTestId('task-reminders').fill('PT15M');
    // A value only the server can judge: its error lands on its field too, without the code.
    await page.getByTestId('task-recurrence').fill('FREQ=SOMETIMES');
    await page.getByTestId('task-save').click();
    const recurrenceError = page.getByTestId('field-error-recurrence');
    await recurrenceError.waitFor();
    expect(await recurrenceError.textContent()).not.toMatch(/^BAD_USER_INPUT/);
    expect(await reminderError.isHidden()).toBe(true);
    await page.getByTestId('task-recurrence').fill('');
    await page.getByTestId('task-save').click();
    const created = row(page, 'Call New York');
    await created.waitFor();
    const { tasks } = (await api('query { tasks(first: 5) { edges { node { id dueAt timeZone } } } }', {})) as unknown as {
      tasks: { edges: { node: { id: string; dueAt: string; timeZone: string } }[] };
    };
    expect(tasks.edges.map((e) => e.node)).toEqual([
      { id: expect.any(String), dueAt: '2030-01-07T14:00:00.000Z', timeZone: 'America/New_York' },
    ]);
    const id = tasks.edges[0]!.node.id;
    // Shown as New York's wall clock, with the zone named (it is not the reader's).
    await expectText(created, '7 Jan 2030, 9:00 (New York time)');

    // Editing shows the due time as typed, in the task's zone.
    await created.getByTestId('task-edit').click();
    expect(await page.getByTestId('task-due').inputValue()).toBe('2030-01-07T09:00');
    // Meanwhile another device changes priority and notes.
    await api('mutation($id: ID!) { updateTask(id: $id, input: { priority: URGENT, notes: "from the phone" }) { id } }', { id });
    await page.getByTestId('task-title').fill('Call New York (mine)');
    await page.getByTestId('task-save').click();
    // The conflict reloads the latest version, keeps the user's title, says what changed, takes theirs elsewhere.
    const notice = page.getByTestId('form-notice');
    await expectText(notice, 'Someone else changed this task');
    await expectText(notice, 'priority → “urgent”');
    expect(await page.getByTestId('task-title').inputValue()).toBe('Call New York (mine)');
    expect(await page.getByTestId('task-priority').inputValue()).toBe('URGENT');
    expect(await page.getByTestId('task-due').inputValue()).toBe('2030-01-07T09:00');
    await page.getByTestId('task-save').click();
    await expectText(page.locator(`[data-task-id="${id}"]`).getByTestId('task-row-title'), 'Call New York (mine)');
    expect(await api('query($id: ID!) { task(id: $id) { id title priority notes dueAt version } }', { id })).toEqual({
      task: {
        id,
        title: 'Call New York (mine)',
        priority: 'URGENT',
        notes: 'from the phone',
        dueAt: '2030-01-07T14:00:00.000Z',
        version: 3,
      },
    });

    // History shows people's dates, not ISO instants (completion sets completedAt).
    const taskRow = page.locator(`[data-task-id="${id}"]`);
    await taskRow.getByTestId('task-toggle').check();
    await page.locator(`.task.done[data-task-id="${id}"]`).waitFor();
    const entries = page.getByTestId('history-entry');
    for (let attempt = 0; attempt < 40 && (await entries.count()) < 4; attempt++) {
      await taskRow.getByTestId('task-history').click();
      await page.waitForTimeout(250);
    }
    const history = (await page.getByTestId('history-panel').textContent()) ?? '';
    expect(history).toContain('completedAt');
    expect(history).not.toMatch(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/);
    expect(missing).toEqual([]); // favicon included
    await page.screenshot({ path: join(ARTIFACTS, 'browser-timezone-conflict.png'), fullPage: true });
    await berlin.close();
    timings.timeZoneAndConflict = Math.round(performance.now() - started);
  });

  it('works against a gateway in trusted-documents mode, sending hashes only (HTTP and WebSocket)', async () => {
    const started = performance.now();
    const manifest = loadTrustedDocumentsManifest(join(ROOT, DEFAULT_TRUSTED_DOCUMENTS_PATH));
    const trusted = await startSystem({ gateway: { nodeEnv: 'development', trustedDocuments: { manifest, enforce: true } } });
    const own = await browser.newContext({ timezoneId: 'UTC', locale: 'en-GB' });
    try {
      const bodies: Record<string, unknown>[] = [];
      const frames: { type?: string; payload?: { query?: string; extensions?: unknown } }[] = [];
      own.on('request', (request) => {
        if (request.method() === 'POST' && new URL(request.url()).pathname === '/graphql') bodies.push(request.postDataJSON());
      });
      const open = async () => {
        const page = await own.newPage();
        page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
        page.on('websocket', (ws) => ws.on('framesent', ({ payload }) => frames.push(JSON.parse(String(payload)))));
        await page.goto(new URL('/app/', trusted.gatewayUrl).href);
        return page;
      };
      const tabA = await open();
      await tabA.getByTestId('signin-user').fill('trudy');
      await tabA.getByTestId('signin-submit').click();
      await expectText(tabA.getByTestId('signed-in-user'), 'trudy');
      const tabB = await open();
      await tabB.locator('[data-testid="live-status"][data-state="live"]').waitFor({ timeout: 15_000 });

      await tabA.bringToFront();
      await tabA.getByTestId('task-title').fill('Trusted only');
      await tabA.getByTestId('task-save').click();
      await row(tabA, 'Trusted only').waitFor();
      await row(tabB, 'Trusted only').waitFor({ timeout: 10_000 });
      await tabA.getByTestId('notification-count').waitFor();

      // Every operation went by hash: no query text over HTTP, `query: ""` in every subscribe frame.
      expect(bodies.length).toBeGreaterThanOrEqual(4);
      for (const body of bodies) {
        expect(body.query).toBeUndefined();
        expect(body.extensions).toEqual({ persistedQuery: { version: 1, sha256Hash: expect.stringMatching(/^[0-9a-f]{64}$/) } });
      }
      const subscribes = frames.filter((frame) => frame.type === 'subscribe');
      expect(subscribes.length).toBeGreaterThanOrEqual(2);
      for (const frame of subscribes) expect([frame.payload?.query, frame.payload?.extensions]).toEqual(['', expect.any(Object)]);
      // Control: this gateway refuses text, so the page could not have worked by sending it.
      const refused = await trusted.graphql('{ tasks(first: 1) { edges { node { id } } } }', {}, 'trudy');
      expect([refused.status, refused.errors?.[0]?.extensions?.code]).toEqual([403, 'PERSISTED_QUERY_NOT_IN_LIST']);
      timings.trusted = Math.round(performance.now() - started);
    } finally {
      await own.close();
      await trusted.close();
    }
  });

  it('says plainly when live updates are unavailable instead of faking them', async () => {
    // A system without sync: the composed API has no Subscription type, the gateway refuses the feed.
    const partial = await startSystem({ subgraphs: ['tasks', 'audit', 'notifications'], gateway: { nodeEnv: 'development' } });
    try {
      const page = await context.newPage();
      await page.goto(new URL('/app/', partial.gatewayUrl).href);
      await page.getByTestId('signin-user').fill('carol');
      await page.getByTestId('signin-submit').click();
      const unavailable = page.locator('[data-testid="live-status"][data-state="unavailable"]');
      await unavailable.waitFor({ timeout: 15_000 });
      expect(await unavailable.textContent()).toBe('live updates unavailable (GRAPHQL_VALIDATION_FAILED)');
      await page.close();
    } finally {
      await partial.close();
    }
  });
});
