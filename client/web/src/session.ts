/**
 * Dev sign-in: the page asks the gateway's development-only `GET /dev/token?user=…` for a client
 * JWT (it never holds a signing secret) and keeps it in localStorage, so every tab of the same
 * browser is signed in as the same user.
 */
export interface Session {
  readonly userId: string;
  readonly token: string;
  readonly expiresAt: string;
}

const KEY = 'taskgraph.session';

export async function signIn(userId: string): Promise<Session> {
  const res = await fetch(`/dev/token?user=${encodeURIComponent(userId)}`);
  const body = (await res.json().catch(() => ({}))) as Partial<Session> & { error?: string };
  if (!res.ok || !body.token || !body.userId || !body.expiresAt) {
    throw new Error(body.error ?? `sign-in failed (HTTP ${res.status}); the gateway serves /dev/token outside production only`);
  }
  const session: Session = { userId: body.userId, token: body.token, expiresAt: body.expiresAt };
  localStorage.setItem(KEY, JSON.stringify(session));
  return session;
}

/** The stored session, unless it expires within a minute. */
export function storedSession(): Session | undefined {
  try {
    const session = JSON.parse(localStorage.getItem(KEY) ?? 'null') as Session | null;
    return session && Date.parse(session.expiresAt) > Date.now() + 60_000 ? session : undefined;
  } catch {
    return undefined;
  }
}

export function signOut(): void {
  localStorage.removeItem(KEY);
}
