import type { FormattedExecutionResult } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import { SignJWT } from 'jose';
import { WebSocket } from 'ws';

/** Counts attempts and leaks; a leak is any answer that contains the victim's secret marker. */
export class AttackLedger {
  attempts = 0;
  readonly leaks: string[] = [];

  constructor(private readonly secret: string) {}

  /** Records one attempt; `answer` is everything the attacker got back. */
  check(what: string, answer: unknown): void {
    this.attempts++;
    const text = typeof answer === 'string' ? answer : JSON.stringify(answer ?? null);
    if (text.includes(this.secret)) this.leaks.push(`${what}: ${text.slice(0, 300)}`);
  }
}

/** A JWT with `alg: none` (unsigned), as an attacker would craft it. */
export function unsignedJwt(claims: Record<string, unknown>): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'none', typ: 'JWT' })}.${encode(claims)}.`;
}

/** An HS256 JWT with arbitrary claims and secret (forged, expired, wrong audience...). */
export async function signJwt(claims: Record<string, unknown>, secret: string, alg = 'HS256'): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg, typ: 'JWT' }).sign(new TextEncoder().encode(secret));
}

export interface RawWsOutcome {
  /** Close code and reason the server sent (0 when the socket did not close in time). */
  code: number;
  reason: string;
  /** Every message the server sent before closing, parsed when JSON. */
  messages: unknown[];
}

/**
 * Opens a WebSocket with the graphql-ws subprotocol, sends `frames` (strings sent as they are, other
 * values as JSON), and waits for the close (or `waitMs`).
 */
export async function rawGraphqlWs(
  url: string,
  frames: readonly unknown[],
  options: { waitMs?: number; gapMs?: number; protocol?: string; until?: (messages: unknown[]) => boolean } = {},
): Promise<RawWsOutcome> {
  const socket = new WebSocket(url, options.protocol ?? 'graphql-transport-ws');
  const messages: unknown[] = [];
  return new Promise<RawWsOutcome>((resolve) => {
    let done = false;
    const finish = (code: number, reason: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => {});
      if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) socket.terminate();
      resolve({ code, reason, messages });
    };
    const timer = setTimeout(() => finish(0, 'no close'), options.waitMs ?? 5_000);
    socket.on('message', (data) => {
      const text = data.toString();
      try {
        messages.push(JSON.parse(text));
      } catch {
        messages.push(text);
      }
      if (options.until?.(messages)) finish(0, 'done');
    });
    socket.on('close', (code, reason) => finish(code, reason.toString()));
    socket.on('error', () => finish(-1, 'socket error'));
    socket.on('unexpected-response', (_req, res) => finish(-res.statusCode!, 'refused upgrade'));
    socket.on('open', async () => {
      for (const frame of frames) {
        if (socket.readyState !== WebSocket.OPEN) return;
        socket.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame));
        await new Promise((r) => setTimeout(r, options.gapMs ?? 20));
        // As the protocol requires, later frames wait for the server's `connection_ack` (or the close):
        // otherwise a busy server rightly closes 4401 and the case tests something else.
        if ((frame as { type?: unknown } | null)?.type === 'connection_init') {
          const until = Date.now() + 10_000;
          while (socket.readyState === WebSocket.OPEN && Date.now() < until) {
            if (messages.some((m) => (m as { type?: unknown } | null)?.type === 'connection_ack')) break;
            await new Promise((r) => setTimeout(r, 10));
          }
        }
      }
    });
  });
}

/** A graphql-ws client with given `connection_init` params (no retries), to any graphql-ws endpoint. */
export function wsClient(url: string, connectionParams: Record<string, unknown>): { client: Client; closes: number[] } {
  const closes: number[] = [];
  const client = createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams,
    retryAttempts: 0,
    lazy: true,
    on: { closed: (event) => closes.push((event as { code: number }).code) },
  });
  return { client, closes };
}

/** Collects a subscription's results until disposed; `ended` settles with its error or completion. */
export function collect(
  client: Client,
  query: string,
  variables: Record<string, unknown> = {},
  extensions?: Record<string, unknown>,
): { results: FormattedExecutionResult<Record<string, unknown>, unknown>[]; ended: Promise<unknown>; dispose(): void } {
  const results: FormattedExecutionResult<Record<string, unknown>, unknown>[] = [];
  let settle: (value: unknown) => void = () => {};
  const ended = new Promise<unknown>((resolve) => {
    settle = resolve;
  });
  const dispose = client.subscribe(
    { query, variables, ...(extensions ? { extensions } : {}) },
    {
      next: (result) => {
        results.push(result);
      },
      error: (error) => settle({ error }),
      complete: () => settle({ complete: true }),
    },
  );
  return { results, ended, dispose };
}

/** Runs one query/mutation over graphql-ws and returns its single result (or the error). */
export async function wsOnce(client: Client, query: string, variables: Record<string, unknown> = {}): Promise<unknown> {
  const { results, ended } = collect(client, query, variables);
  const end = await Promise.race([ended, new Promise((r) => setTimeout(() => r({ timeout: true }), 10_000))]);
  return results.length > 0 ? results : end;
}
