import { hostname } from 'node:os';
import { parseEnv, type ServiceConfig } from '@taskgraph/runtime';
import { z } from 'zod';

/**
 * Sync-only settings (CONVENTIONS §6: env is read here, validated at startup). Every value has a
 * default, so a plain `ServiceConfig` (tests, `startSystem`) starts sync too.
 */
export interface SyncSettings {
  /**
   * Unique per running process: names this process's consumer group (`sync-<instanceId>`), so every
   * instance receives every update. Default: `<hostname>-<pid>-<random>` (the hostname is the pod
   * name in Kubernetes).
   */
  instanceId: string;
  /** Updates older than this are pruned; resuming from before the pruned ones fails with RESYNC_REQUIRED. */
  retentionSeconds: number;
  /** At most this many updates are kept per user (older ones are pruned the same way). */
  retentionMaxPerUser: number;
  /** How often the retention pruner runs. */
  pruneIntervalMs: number;
  /** WebSocket ping interval; a peer that does not answer with a pong within the same interval is dropped. */
  keepAliveMs: number;
  /** Undelivered events one subscription may hold before it is dropped with UNAVAILABLE (slow consumer). */
  subscriberQueueSize: number;
  /** Rows read per backfill query while replaying. */
  backfillPageSize: number;
  /** Reminders older than this when they reach sync are stale (replays) and are not pushed. */
  reminderMaxAgeMs: number;
  /** Largest accepted WebSocket message (bytes). */
  maxPayloadBytes: number;
  /**
   * Dapr mode: how long an update the relay published may stay unstored before live publishing
   * stops waiting for it (see ordered-release.ts). Everything after it waits meanwhile.
   */
  reorderHoldMs: number;
  /** Dapr mode: safety re-check period of the ordered release. */
  releasePollMs: number;
}

/** What `createService` takes: the shared service config plus optional sync settings. */
export type SyncServiceConfig = ServiceConfig & { sync?: Partial<SyncSettings> };

export const defaultInstanceId = (): string => `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

export const DEFAULT_SYNC_SETTINGS: Omit<SyncSettings, 'instanceId'> = {
  // Retention rationale: see retention.ts (24 h covers a night offline; the per-user cap bounds one replay).
  retentionSeconds: 24 * 60 * 60,
  retentionMaxPerUser: 1_000,
  pruneIntervalMs: 60_000,
  keepAliveMs: 12_000,
  subscriberQueueSize: 1_000,
  backfillPageSize: 200,
  reminderMaxAgeMs: 10 * 60_000,
  maxPayloadBytes: 100 * 1024,
  reorderHoldMs: 10_000,
  releasePollMs: 1_000,
};

export function resolveSyncSettings(overrides: Partial<SyncSettings> = {}): SyncSettings {
  return { ...DEFAULT_SYNC_SETTINGS, instanceId: defaultInstanceId(), ...overrides };
}

const positiveInt = z.coerce.number().int().positive();

/** Reads `SYNC_*` variables; unset ones keep their defaults. */
export function loadSyncSettings(env: NodeJS.ProcessEnv = process.env): Partial<SyncSettings> {
  const parsed = parseEnv(
    {
      SYNC_INSTANCE_ID: z
        .string()
        .regex(/^[A-Za-z0-9._-]{1,100}$/, 'letters, digits, dot, dash, underscore (max 100)')
        .optional(),
      SYNC_RETENTION_SECONDS: positiveInt.optional(),
      SYNC_RETENTION_MAX_PER_USER: positiveInt.optional(),
      SYNC_KEEPALIVE_MS: positiveInt.optional(),
      SYNC_SUBSCRIBER_QUEUE: positiveInt.optional(),
      SYNC_REORDER_HOLD_MS: positiveInt.optional(),
    },
    env,
  );
  const settings: Partial<SyncSettings> = {};
  if (parsed.SYNC_INSTANCE_ID) settings.instanceId = parsed.SYNC_INSTANCE_ID;
  if (parsed.SYNC_RETENTION_SECONDS) settings.retentionSeconds = parsed.SYNC_RETENTION_SECONDS;
  if (parsed.SYNC_RETENTION_MAX_PER_USER) settings.retentionMaxPerUser = parsed.SYNC_RETENTION_MAX_PER_USER;
  if (parsed.SYNC_KEEPALIVE_MS) settings.keepAliveMs = parsed.SYNC_KEEPALIVE_MS;
  if (parsed.SYNC_SUBSCRIBER_QUEUE) settings.subscriberQueueSize = parsed.SYNC_SUBSCRIBER_QUEUE;
  if (parsed.SYNC_REORDER_HOLD_MS) settings.reorderHoldMs = parsed.SYNC_REORDER_HOLD_MS;
  return settings;
}
