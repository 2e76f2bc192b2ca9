/**
 * graphql-ws clients in their own process (raw `ws` speaking `graphql-transport-ws`, so the
 * client's own cost stays small): many idle subscribers for the fan-out benchmark, or one
 * subscriber plus a fixed-rate mutation sender for the latency benchmark. Arrival times are
 * taken first thing in the `message` handler, on the cross-process monotonic clock.
 */
import { Pool } from 'undici';
import WebSocket from 'ws';
import { serveParent } from '../lib/child.js';
import { type LatencySummary, monotonicMs, summarize } from '../lib/stats.js';

interface Subscriber {
  ws: WebSocket;
  /** Which gateway it is connected to (fan-out over several gateway processes). */
  group: string;
  /** Arrival times (monotonic ms) and raw `next` messages since the last `reset`. */
  arrivals: number[];
  messages: Buffer[];
  errors: string[];
}

const NEXT = Buffer.from('"next"');
const wsUrl = (httpUrl: string) => httpUrl.replace(/^http/, 'ws');

/** Opens one connection, authenticates, subscribes; resolves once the subscribe message is sent. */
function connect(
  url: string,
  token: string,
  query: string,
  variables: Record<string, unknown>,
  onNext?: (t: number, data: Buffer) => void,
  initPayload: Record<string, unknown> = { authorization: `Bearer ${token}` },
): Promise<Subscriber> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(url), 'graphql-transport-ws', { perMessageDeflate: false });
    const sub: Subscriber = { ws, group: 'default', arrivals: [], messages: [], errors: [] };
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('connection_ack timeout'));
    }, 30_000);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: initPayload })));
    ws.on('message', (data: Buffer) => {
      const t = monotonicMs();
      if (data.includes(NEXT)) {
        if (onNext) onNext(t, data);
        else {
          sub.arrivals.push(t);
          sub.messages.push(data);
        }
        return;
      }
      const message = JSON.parse(data.toString()) as { type: string; payload?: unknown };
      if (message.type === 'connection_ack') {
        ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables } }));
        clearTimeout(timer);
        resolve(sub);
      } else if (message.type === 'ping') ws.send('{"type":"pong"}');
      else if (message.type === 'error' || message.type === 'complete') sub.errors.push(data.toString().slice(0, 300));
    });
    ws.on('error', (error) => {
      clearTimeout(timer);
      sub.errors.push(error.message);
      reject(error);
    });
    ws.on('close', (code, reason) => {
      clearTimeout(timer);
      sub.errors.push(`closed ${code} ${reason.toString()}`);
      reject(new Error(`closed ${code} ${reason.toString()}`));
    });
  });
}

export interface ConnectRequest {
  url: string;
  token: string;
  query: string;
  variables?: Record<string, unknown>;
  /** Connections to add. */
  count: number;
  /** Handshakes in flight at once. */
  parallel?: number;
  /** Label of these connections (e.g. the gateway they go to), for `arrivals` and `disconnect`. */
  group?: string;
}

export interface ArrivalsRequest {
  /** Wait until every subscriber has this many messages since `reset` (or the timeout). */
  perSubscriber: number;
  timeoutMs: number;
  /** Only subscribers of these groups (default: all). */
  groups?: string[];
}

export interface ArrivalsResult {
  subscribers: number;
  /** Arrival time of each subscriber's n-th message since `reset` (n = perSubscriber), missing excluded. */
  arrivals: number[];
  missing: number;
  /** `next` payloads with GraphQL errors, and protocol errors/closes. */
  errors: string[];
}

export interface RateRequest {
  url: string;
  token: string;
  subscription: string;
  variables?: Record<string, unknown>;
  /** Tasks to update round-robin (a task with a mutation in flight is skipped). */
  tasks: { id: string; version: number }[];
  rate: number;
  warmupMs: number;
  durationMs: number;
  /**
   * Also subscribe straight to the subgraph that owns `taskUpdates` (sync), past the gateway, with
   * an internal token: splits the latency into "to sync's push" and "through the gateway".
   */
  direct?: { url: string; internalToken: string; subscription: string; variables?: Record<string, unknown> };
}

export interface RateResult {
  rate: number;
  sent: number;
  /** Mutations sent including the warm-up (what a CPU meter around the whole run saw). */
  sentTotal: number;
  /** Measured: mutation request sent → subscription result received. */
  latency: LatencySummary;
  /** Measured: mutation HTTP round trip. */
  mutation: LatencySummary;
  /** Measured: mutation request sent → the same update pushed by sync to a direct subscriber. */
  direct?: LatencySummary;
  achievedRate: number;
  missing: number;
  errors: string[];
  /** Sends later than 5 ms behind schedule (the client could not keep the rate). */
  lateSends: number;
  /** Results whose `task.history` (when selected) lacks the event's own version (causal freshness). */
  stale: number;
  startedAt: number;
  endedAt: number;
}

const UPDATE =
  'mutation Bump($id: ID!, $title: String!, $v: Int) { updateTask(id: $id, input: { title: $title }, expectedVersion: $v) { version } }';

async function rateRun(request: RateRequest): Promise<RateResult> {
  const sentAt = new Map<string, { t: number; measured: boolean }>();
  const latencies: number[] = [];
  const errors: string[] = [];
  let received = 0;
  let stale = 0;
  const onNext = (t: number, data: Buffer) => {
    const message = JSON.parse(data.toString()) as {
      payload: {
        data?: { taskUpdates: { taskId: string; version: number; task?: { history?: { edges: { node: { version: number } }[] } } | null } };
        errors?: unknown;
      };
    };
    if (message.payload.errors) errors.push(JSON.stringify(message.payload.errors).slice(0, 300));
    const update = message.payload.data?.taskUpdates;
    if (!update) return;
    const history = update.task?.history;
    if (history && !history.edges.some((e) => e.node.version === update.version)) stale++;
    const key = `${update.taskId}:${update.version}`;
    const sent = sentAt.get(key);
    if (!sent) return;
    sentAt.delete(key);
    received++;
    if (sent.measured) latencies.push(t - sent.t);
  };
  const sentTimes = new Map<string, { t: number; measured: boolean }>();
  const directLatencies: number[] = [];
  const onDirect = (t: number, data: Buffer) => {
    const message = JSON.parse(data.toString()) as { payload: { data?: { taskUpdates: { taskId: string; version: number } } } };
    const update = message.payload.data?.taskUpdates;
    const sent = update && sentTimes.get(`${update.taskId}:${update.version}`);
    if (sent?.measured) directLatencies.push(t - sent.t);
  };
  const direct = request.direct
    ? await connect(request.direct.url, '', request.direct.subscription, request.direct.variables ?? {}, onDirect, {
        'x-taskgraph-internal': request.direct.internalToken,
      })
    : undefined;
  const subscriber = await connect(request.url, request.token, request.subscription, request.variables ?? {}, onNext);
  const origin = new URL(request.url);
  const pool = new Pool(origin.origin, { connections: 64, pipelining: 1 });
  const tasks = request.tasks.map((t) => ({ ...t, busy: false }));
  const mutationLatencies: number[] = [];
  let next = 0;
  let sent = 0;
  let measuredSent = 0;
  let lateSends = 0;
  let skipped = 0;
  const inflight = new Set<Promise<void>>();

  const send = (measured: boolean) => {
    let task: (typeof tasks)[number] | undefined;
    for (let tries = 0; tries < tasks.length; tries++) {
      const candidate = tasks[next++ % tasks.length];
      if (candidate && !candidate.busy) {
        task = candidate;
        break;
      }
    }
    if (!task) {
      skipped++;
      return;
    }
    const current = task;
    current.busy = true;
    const t0 = monotonicMs();
    sentAt.set(`${current.id}:${current.version + 1}`, { t: t0, measured });
    sentTimes.set(`${current.id}:${current.version + 1}`, { t: t0, measured });
    sent++;
    if (measured) measuredSent++;
    const body = JSON.stringify({ query: UPDATE, variables: { id: current.id, title: `rate ${sent}`, v: current.version } });
    const p = (async () => {
      try {
        const res = await pool.request({
          path: origin.pathname,
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${request.token}` },
          body,
        });
        const json = (await res.body.json()) as { data?: { updateTask: { version: number } }; errors?: unknown };
        if (json.errors || !json.data) errors.push(JSON.stringify(json.errors ?? json).slice(0, 300));
        else current.version = json.data.updateTask.version;
        if (measured) mutationLatencies.push(monotonicMs() - t0);
      } catch (error) {
        errors.push(error instanceof Error ? error.message : String(error));
      } finally {
        current.busy = false;
      }
    })();
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  };

  const start = monotonicMs();
  const measureFrom = start + request.warmupMs;
  const end = measureFrom + request.durationMs;
  let due = 0;
  while (monotonicMs() < end) {
    const now = monotonicMs();
    const target = Math.floor(((now - start) * request.rate) / 1000);
    while (due < target) {
      const scheduled = start + (due * 1000) / request.rate;
      if (now - scheduled > 5) lateSends++;
      send(now >= measureFrom);
      due++;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(inflight);
  // Results still on their way.
  const deadline = monotonicMs() + 5_000;
  while ([...sentAt.values()].some((s) => s.measured) && monotonicMs() < deadline) await new Promise((r) => setTimeout(r, 20));
  const missing = [...sentAt.values()].filter((s) => s.measured).length;
  await pool.close();
  subscriber.ws.close();
  direct?.ws.close();
  if (skipped) errors.push(`${skipped} sends skipped: every task had a mutation in flight`);
  return {
    rate: request.rate,
    sent: measuredSent,
    sentTotal: sent,
    latency: summarize(latencies),
    mutation: summarize(mutationLatencies),
    ...(direct ? { direct: summarize(directLatencies) } : {}),
    achievedRate: measuredSent / (request.durationMs / 1000),
    missing,
    errors: [
      ...new Set([...errors, ...subscriber.errors.filter((e) => !e.startsWith('closed 1000') && !e.startsWith('closed 1005'))]),
    ].slice(0, 10),
    lateSends,
    stale,
    startedAt: measureFrom,
    endedAt: end,
  };
}

export interface ReplayRequest {
  url: string;
  token: string;
  subscription: string;
  variables: Record<string, unknown>;
  /** Done once this many results arrived, or nothing arrived for `quietMs`. */
  expected: number;
  quietMs: number;
}

export interface ReplayResult {
  count: number;
  /** Monotonic ms: subscribe sent, first and last result received. */
  subscribedAt: number;
  firstAt: number;
  lastAt: number;
  errors: string[];
}

/** Resumes one subscription (e.g. after the oldest retained cursor) and times the replay. */
async function replayRun(request: ReplayRequest): Promise<ReplayResult> {
  const arrivals: number[] = [];
  const errors: string[] = [];
  const subscribedAt = monotonicMs();
  const sub = await connect(request.url, request.token, request.subscription, request.variables, (t, data) => {
    arrivals.push(t);
    if (data.includes('"errors"')) errors.push(data.toString().slice(0, 300));
  });
  for (;;) {
    await new Promise((r) => setTimeout(r, 20));
    const last = arrivals.at(-1) ?? subscribedAt;
    if (arrivals.length >= request.expected || monotonicMs() - last > request.quietMs) break;
  }
  sub.ws.close();
  return {
    count: arrivals.length,
    subscribedAt,
    firstAt: arrivals[0] ?? Number.NaN,
    lastAt: arrivals.at(-1) ?? Number.NaN,
    errors: [...new Set([...errors, ...sub.errors.filter((e) => !e.startsWith('closed 1000') && !e.startsWith('closed 1005'))])].slice(
      0,
      10,
    ),
  };
}

const subscribers: Subscriber[] = [];

await serveParent(
  async () => ({}),
  () => ({
    async connect(request: ConnectRequest) {
      const parallel = request.parallel ?? 200;
      let remaining = request.count;
      const failures: string[] = [];
      await Promise.all(
        Array.from({ length: Math.min(parallel, request.count) }, async () => {
          while (remaining > 0) {
            remaining--;
            try {
              const subscriber = await connect(request.url, request.token, request.query, request.variables ?? {});
              subscriber.group = request.group ?? 'default';
              subscribers.push(subscriber);
            } catch (error) {
              failures.push(error instanceof Error ? error.message : String(error));
            }
          }
        }),
      );
      if (failures.length) throw new Error(`${failures.length} connections failed, first: ${failures[0]}`);
      return { open: subscribers.length, memory: process.memoryUsage().rss };
    },
    reset() {
      for (const s of subscribers) {
        s.arrivals = [];
        s.messages = [];
      }
      return subscribers.length;
    },
    async arrivals(request: ArrivalsRequest): Promise<ArrivalsResult> {
      const deadline = monotonicMs() + request.timeoutMs;
      const groups = request.groups ? new Set(request.groups) : undefined;
      const measured = groups ? subscribers.filter((s) => groups.has(s.group)) : subscribers;
      while (measured.some((s) => s.arrivals.length < request.perSubscriber) && monotonicMs() < deadline) {
        await new Promise((r) => setTimeout(r, 10));
      }
      const arrivals: number[] = [];
      const errors: string[] = [];
      let missing = 0;
      for (const s of measured) {
        const t = s.arrivals[request.perSubscriber - 1];
        if (t === undefined) missing++;
        else arrivals.push(t);
        for (const m of s.messages) if (m.includes('"errors"')) errors.push(m.toString().slice(0, 300));
        errors.push(...s.errors);
      }
      return { subscribers: measured.length, arrivals, missing, errors: [...new Set(errors)].slice(0, 10) };
    },
    /** Closes the connections of `group` (their closes are not errors) and forgets them. */
    disconnect({ group }: { group: string }) {
      const kept = subscribers.filter((s) => s.group !== group);
      for (const s of subscribers) {
        if (s.group !== group) continue;
        s.ws.removeAllListeners();
        s.ws.on('error', () => {});
        s.ws.terminate();
      }
      const closed = subscribers.length - kept.length;
      subscribers.length = 0;
      for (const s of kept) subscribers.push(s);
      return closed;
    },
    open: () => subscribers.length,
    /** The payload of one subscriber's last message (sanity check). */
    sample: () => subscribers[0]?.messages.at(-1)?.toString(),
    rate: (request: RateRequest) => rateRun(request),
    replay: (request: ReplayRequest) => replayRun(request),
  }),
  () => ({ pid: process.pid }),
  async () => {
    for (const s of subscribers) s.ws.terminate();
  },
);
