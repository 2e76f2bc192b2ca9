import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sleep } from '@taskgraph/events';
import { type AppRegistration, type BrokerDoubleOptions, DaprBrokerDouble } from './broker-double.js';
import { bulkPublish } from './bulk-publish-double.js';
import { JobsDouble } from './jobs-double.js';
import { discoverSubscriptions } from './subscription-discovery.js';
import { daprChildTraceparent } from './trace-context.js';

/** A request the sidecar received, for assertions. */
export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  /** Lower-cased header names, as Node gives them. */
  headers: Record<string, string>;
  /** Parsed JSON when the body is JSON, else the text; undefined when empty. */
  body: unknown;
  rawBody: string;
  at: number;
}

/** How the publish endpoint answers: `ok` 204, `fail` 500, `hang` holds the request (then 500, never accepted). */
export type PublishMode = 'ok' | 'fail' | 'hang';

export interface DaprSidecarDoubleOptions {
  /** The app this sidecar belongs to: its subscriptions are discovered (polling until it answers, like daprd) and its jobs fire to it. */
  appUrl?: string;
  /** Dapr app-id (default `app`). */
  appId?: string;
  /** Kafka consumer group of the app (default: the app-id). */
  consumerId?: string;
  /** Pub/sub component name (default `pubsub`). */
  pubsubName?: string;
  /** Share one broker between several sidecars (one per app, like pods); default: a new broker. */
  broker?: DaprBrokerDouble;
  /** Delivery retry/timeouts of a new broker. */
  delivery?: BrokerDoubleOptions;
  /** How long `start()`/`addApp()` wait for `GET /dapr/subscribe` to answer (default 10 s). */
  discoveryTimeoutMs?: number;
  /**
   * daprd's `APP_API_TOKEN`: sent to the app in `dapr-api-token` on discovery, every delivery and
   * every job trigger, as daprd does. Unset: no header.
   */
  appToken?: string;
  /** Serve the bulk publish API (default true); false answers 404 there, as a daprd without it does. */
  bulkPublish?: boolean;
  /**
   * daprd's `DAPR_API_TOKEN`: when set, every call to this sidecar except the health endpoints must
   * carry it in `dapr-api-token`, else 401 (as daprd's API token check). Unset: no check.
   */
  apiToken?: string;
  /**
   * The daprd release this sidecar plays, reported as `runtimeVersion` by `GET /v1.0/metadata`
   * (default `DEFAULT_DAPR_RUNTIME_VERSION`, the version k8s/ deploys). It decides the Jobs routes, as
   * in the real releases: 1.16/1.17 serve only `/v1.0-alpha1/jobs/{name}` (the stable route falls
   * through to daprd's 404), 1.18 and later serve `/v1.0/jobs/{name}` too.
   */
  runtimeVersion?: string;
  /** Port to listen on (default 0: a free one); a test restarts a sidecar at the same address with it. */
  port?: number;
}

/** The Dapr release the double plays by default: the one `k8s/` and docs/DEPLOY.md install. */
export const DEFAULT_DAPR_RUNTIME_VERSION = '1.18.3';

/** Whether daprd `version` serves the stable Jobs API (`/v1.0/jobs`, Dapr ≥ 1.18). */
export function servesStableJobsApi(version: string): boolean {
  const match = /^v?(\d+)\.(\d+)/.exec(version);
  if (!match) throw new Error(`sidecar double: runtimeVersion ${version} is not a Dapr release (x.y.z)`);
  const [major, minor] = [Number(match[1]), Number(match[2])];
  return major > 1 || (major === 1 && minor >= 18);
}

export interface AddAppOptions {
  appId?: string;
  consumerId?: string;
  /** App token sent to this app (default: the sidecar's `appToken`). */
  appToken?: string;
}

/**
 * Test double of the Dapr sidecar speaking ARCHITECTURE §5 over real HTTP on port 0: metadata and health,
 * publish (recorded, can fail or hang), subscription discovery and ordered delivery through an
 * in-memory Kafka-like broker with dead-letter topics, and the Jobs API.
 */
export class DaprSidecarDouble {
  /** Every request this sidecar received, in arrival order. */
  readonly requests: RecordedRequest[] = [];
  readonly broker: DaprBrokerDouble;
  readonly jobs: JobsDouble;
  readonly appId: string;
  readonly pubsubName: string;
  /** `runtimeVersion` reported on `/v1.0/metadata`. */
  readonly runtimeVersion: string;
  private readonly jobRoute: RegExp;
  private server: Server | undefined;
  private listeningPort: number | undefined;
  private ownApp: string | undefined;
  private readonly apps: AppRegistration[] = [];
  private publishMode: PublishMode = 'ok';
  private failNext = 0;
  private readonly failEntryIds = new Set<string>();
  private hangMs = Number.POSITIVE_INFINITY;
  private readonly held = new Set<ServerResponse>();
  private discovery: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private readonly ownsBroker: boolean;

  constructor(private readonly options: DaprSidecarDoubleOptions = {}) {
    this.appId = options.appId ?? 'app';
    this.pubsubName = options.pubsubName ?? 'pubsub';
    this.ownsBroker = !options.broker;
    this.broker = options.broker ?? new DaprBrokerDouble(options.delivery);
    this.ownApp = options.appUrl;
    this.jobs = new JobsDouble(() => this.ownApp, options.appToken);
    this.runtimeVersion = options.runtimeVersion ?? DEFAULT_DAPR_RUNTIME_VERSION;
    this.jobRoute = servesStableJobsApi(this.runtimeVersion) ? /^\/v1\.0(?:-alpha1)?\/jobs\/([^/]+)$/ : /^\/v1\.0-alpha1\/jobs\/([^/]+)$/;
  }

  get port(): number {
    if (this.listeningPort === undefined) throw new Error('sidecar double is not listening');
    return this.listeningPort;
  }

  get host(): string {
    return '127.0.0.1';
  }

  get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  /** `{ host, httpPort, pubsubName }` as services take it, plus the tokens this sidecar is configured with. */
  get config(): { host: string; httpPort: number; pubsubName: string; apiToken?: string; appToken?: string } {
    return {
      host: this.host,
      httpPort: this.port,
      pubsubName: this.pubsubName,
      ...(this.options.apiToken ? { apiToken: this.options.apiToken } : {}),
      ...(this.options.appToken ? { appToken: this.options.appToken } : {}),
    };
  }

  /** Requests to the publish endpoint (`POST /v1.0/publish/...`). */
  publishRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.method === 'POST' && r.path.startsWith('/v1.0/publish/'));
  }

  /** Requests to the bulk publish endpoint (`POST /v1.0-alpha1/publish/bulk/...`). */
  bulkPublishRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.method === 'POST' && r.path.startsWith('/v1.0-alpha1/publish/bulk/'));
  }

  /** Requests to the Jobs API, on either route (`/v1.0/jobs/`, `/v1.0-alpha1/jobs/`), served or not. */
  jobRequests(): RecordedRequest[] {
    return this.requests.filter((r) => /^\/v1\.0(?:-alpha1)?\/jobs\//.test(r.path));
  }

  /** Deliveries (all apps on the broker). */
  get deliveries() {
    return this.broker.deliveries;
  }

  get deadLetters() {
    return this.broker.deadLetters;
  }

  async listen(): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((error) => {
        if (!res.headersSent) send(res, 500, { errorCode: 'ERR_DOUBLE', message: String(error) });
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.listeningPort = (server.address() as AddressInfo).port;
    if (this.ownApp) {
      this.discovery = this.addApp(this.ownApp, { appId: this.appId, consumerId: this.options.consumerId }, Number.POSITIVE_INFINITY);
      this.discovery.catch(() => {});
    }
  }

  /** Waits for the app given as `appUrl` to be discovered (it starts in the background at creation). */
  async start(): Promise<void> {
    if (!this.ownApp) throw new Error('no appUrl: use addApp(appUrl)');
    this.discovery ??= this.addApp(this.ownApp, { appId: this.appId, consumerId: this.options.consumerId });
    await Promise.race([
      this.discovery,
      sleep(this.options.discoveryTimeoutMs ?? 10_000).then(() => {
        throw new Error(`app ${this.ownApp} did not answer GET /dapr/subscribe`);
      }),
    ]);
  }

  /**
   * Discovers an app's subscriptions (`GET {appUrl}/dapr/subscribe`) and attaches it to the broker.
   * The first app added to a sidecar without `appUrl` becomes its own app (jobs fire to it). Apps with
   * the same consumer group share delivery; different groups each get every event.
   */
  async addApp(appUrl: string, options: AddAppOptions = {}, timeoutMs = this.options.discoveryTimeoutMs ?? 10_000): Promise<void> {
    this.ownApp ??= appUrl;
    const appId = options.appId ?? (appUrl === this.ownApp ? this.appId : 'app');
    const consumerId = options.consumerId ?? (appUrl === this.ownApp ? (this.options.consumerId ?? appId) : appId);
    const appToken = options.appToken ?? this.options.appToken;
    const subscriptions = await discoverSubscriptions(appUrl, timeoutMs, this.abort.signal, appToken);
    const app: AppRegistration = { appUrl, appId, consumerId, subscriptions, appToken };
    const index = this.apps.findIndex((a) => a.appUrl === appUrl);
    if (index >= 0) this.apps.splice(index, 1);
    this.apps.push(app);
    this.broker.addApp(app);
  }

  removeApp(appUrl: string): void {
    const index = this.apps.findIndex((a) => a.appUrl === appUrl);
    if (index >= 0) this.apps.splice(index, 1);
    this.broker.removeApp(appUrl);
  }

  /** The next `n` publishes answer 500. */
  failPublishes(n: number): void {
    this.failNext = n;
  }

  /** Switches the publish endpoint; leaving `hang` releases held requests with 500. */
  setPublishMode(mode: PublishMode, options: { hangMs?: number } = {}): void {
    this.publishMode = mode;
    this.hangMs = options.hangMs ?? Number.POSITIVE_INFINITY;
    if (mode !== 'hang') this.releaseHeld();
  }

  /** Delivers an already published event again (tests dedupe) and waits until it settled. */
  redeliver(eventId: string): Promise<void> {
    return this.broker.redeliver(eventId);
  }

  /** Resolves when no delivery is queued or in flight. */
  idle(timeoutMs?: number): Promise<void> {
    return this.broker.idle(timeoutMs);
  }

  async close(): Promise<void> {
    this.abort.abort();
    this.jobs.close();
    if (this.ownsBroker) this.broker.close();
    this.releaseHeld();
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private releaseHeld(): void {
    for (const res of this.held) send(res, 500, { errorCode: 'ERR_PUBSUB_PUBLISH_MESSAGE', message: 'double: publish timed out' });
    this.held.clear();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://sidecar');
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    let body: unknown;
    if (rawBody.length > 0) {
      try {
        body = JSON.parse(rawBody);
      } catch {
        body = rawBody;
      }
    }
    const method = req.method ?? 'GET';
    const path = url.pathname;
    this.requests.push({ method, path, query: Object.fromEntries(url.searchParams), headers, body, rawBody, at: Date.now() });

    // daprd exempts only its health endpoints from the API token check.
    if (method === 'GET' && (path === '/v1.0/healthz' || path === '/v1.0/healthz/outbound')) return send(res, 204);
    if (this.options.apiToken && headers['dapr-api-token'] !== this.options.apiToken)
      return send(res, 401, { errorCode: 'ERR_API_TOKEN', message: 'invalid api token' });
    if (method === 'GET' && path === '/v1.0/metadata') return send(res, 200, this.metadata());
    const publish = /^\/v1\.0\/publish\/([^/]+)\/(.+)$/.exec(path);
    if (publish && method === 'POST')
      return this.publish(res, decodeURIComponent(publish[1]!), decodeURIComponent(publish[2]!), url, headers, body, rawBody);
    const bulk = /^\/v1\.0-alpha1\/publish\/bulk\/([^/]+)\/(.+)$/.exec(path);
    if (bulk && method === 'POST' && this.options.bulkPublish !== false)
      return this.publishBulk(res, decodeURIComponent(bulk[1]!), decodeURIComponent(bulk[2]!), body);
    const job = this.jobRoute.exec(path);
    if (job) {
      const name = decodeURIComponent(job[1]!);
      if (method === 'POST') return reply(res, this.jobs.schedule(name, body));
      if (method === 'DELETE') return reply(res, this.jobs.delete(name));
      if (method === 'GET') {
        const found = this.jobs.get(name);
        return found
          ? send(res, 200, { name, dueTime: found.dueTime, data: found.data })
          : send(res, 404, { errorCode: 'ERR_JOBS_NOT_FOUND' });
      }
    }
    // daprd sends unmatched routes to its service-invocation fallback, which finds no target app id.
    send(res, 404, { errorCode: 'ERR_DIRECT_INVOKE', message: 'failed getting app id either from the URL path or the header dapr-app-id' });
  }

  private async publish(
    res: ServerResponse,
    pubsubName: string,
    topic: string,
    url: URL,
    headers: Record<string, string>,
    body: unknown,
    rawBody: string,
  ): Promise<void> {
    if (pubsubName !== this.pubsubName)
      return send(res, 404, { errorCode: 'ERR_PUBSUB_NOT_FOUND', message: `pubsub ${pubsubName} not found` });
    if (this.failNext > 0) {
      this.failNext -= 1;
      return send(res, 500, { errorCode: 'ERR_PUBSUB_PUBLISH_MESSAGE', message: 'double: failing on purpose' });
    }
    if (this.publishMode === 'fail')
      return send(res, 500, { errorCode: 'ERR_PUBSUB_PUBLISH_MESSAGE', message: 'double: failing on purpose' });
    if (this.publishMode === 'hang') {
      this.held.add(res);
      res.on('close', () => this.held.delete(res));
      if (Number.isFinite(this.hangMs)) {
        await sleep(this.hangMs, this.abort.signal);
        if (this.held.delete(res)) send(res, 500, { errorCode: 'ERR_PUBSUB_PUBLISH_MESSAGE', message: 'double: publish timed out' });
      }
      return;
    }
    const contentType = (headers['content-type'] ?? '').split(';')[0]!.trim();
    let cloudEvent: Record<string, unknown>;
    if (contentType === 'application/cloudevents+json') {
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        return send(res, 400, { errorCode: 'ERR_PUBSUB_CLOUD_EVENTS_SER', message: 'body is not a CloudEvent' });
      }
      cloudEvent = { ...(body as Record<string, unknown>) };
    } else {
      // Dapr wraps non-CloudEvent payloads in its own CloudEvent.
      cloudEvent = {
        specversion: '1.0',
        id: crypto.randomUUID(),
        source: this.appId,
        type: 'com.dapr.event.sent',
        datacontenttype: contentType || 'application/json',
        data: body ?? rawBody,
      };
    }
    // daprd's publish span (a child of the request's traceparent) replaces the event's trace context.
    const traceparent = daprChildTraceparent(headers.traceparent);
    cloudEvent.traceparent = traceparent;
    cloudEvent.traceid = traceparent;
    cloudEvent.tracestate = headers.tracestate ?? '';
    this.broker.publish(pubsubName, topic, url.searchParams.get('metadata.partitionKey') ?? undefined, cloudEvent);
    send(res, 204);
  }

  /** Bulk publish (`bulk-publish-double.ts`); the failure switches apply to the whole request, as a broker outage does. */
  private async publishBulk(res: ServerResponse, pubsubName: string, topic: string, body: unknown): Promise<void> {
    if (this.publishMode === 'hang') return this.hold(res);
    let failAll = this.publishMode === 'fail';
    if (!failAll && this.failNext > 0) {
      this.failNext -= 1;
      failAll = true;
    }
    reply(
      res,
      bulkPublish(
        {
          pubsubName: this.pubsubName,
          appId: this.appId,
          publish: (t, key, cloudEvent) => this.broker.publish(pubsubName, t, key, cloudEvent),
          fails: (entryId) => failAll || this.failEntryIds.delete(entryId),
        },
        pubsubName,
        topic,
        body,
      ),
    );
  }

  /** The next bulk publish entries with these ids fail (a partial failure: the others are published). */
  failBulkEntries(entryIds: string[]): void {
    for (const id of entryIds) this.failEntryIds.add(id);
  }

  private async hold(res: ServerResponse): Promise<void> {
    this.held.add(res);
    res.on('close', () => this.held.delete(res));
    if (Number.isFinite(this.hangMs)) {
      await sleep(this.hangMs, this.abort.signal);
      if (this.held.delete(res)) send(res, 500, { errorCode: 'ERR_PUBSUB_PUBLISH_MESSAGE', message: 'double: publish timed out' });
    }
  }

  private metadata(): Record<string, unknown> {
    return {
      id: this.appId,
      runtimeVersion: this.runtimeVersion,
      enabledFeatures: [],
      components: [{ name: this.pubsubName, type: 'pubsub.kafka', version: 'v1', capabilities: [] }],
      subscriptions: this.apps.flatMap((a) =>
        a.subscriptions.map((s) => ({
          pubsubname: s.pubsubname,
          topic: s.topic,
          rules: [{ path: s.route }],
          deadLetterTopic: s.deadLetterTopic,
        })),
      ),
      extended: {},
    };
  }
}

/** Starts a sidecar double on a free port. */
export async function startDaprSidecarDouble(options: DaprSidecarDoubleOptions = {}): Promise<DaprSidecarDouble> {
  const sidecar = new DaprSidecarDouble(options);
  await sidecar.listen();
  return sidecar;
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (res.headersSent) return;
  if (body === undefined) {
    res.writeHead(status);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function reply(res: ServerResponse, result: { status: number; body?: unknown }): void {
  send(res, result.status, result.body);
}
