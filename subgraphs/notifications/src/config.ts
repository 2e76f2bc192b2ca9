import { loadServiceConfig, parseEnv, type ServiceConfig, SUBGRAPH_SERVICES } from '@taskgraph/runtime';
import { z } from 'zod';

/** This service's registry entry: name, port, Dapr app-id, Postgres schema (CONVENTIONS §16). */
export const SERVICE = SUBGRAPH_SERVICES.notifications;

/**
 * How late a reminder may still fire (default 60 s). A reminder whose fire time is further in the
 * past than this when it is armed (event arrives late: consumer lag, a due date set in the past)
 * or when its job is delivered (scheduler/service outage) is marked MISSED instead of firing: a
 * "due in 15 minutes" reminder that arrives a minute late is still useful, one that arrives after
 * an hour-long backlog is noise. 60 s comfortably covers the normal pipeline (outbox → bus →
 * consumer, well under a second) plus a few transient retries (bus backoff ≤ 5 s, Dapr job
 * failure policy 3 × 5 s = 15 s).
 */
export const DEFAULT_REMINDER_GRACE_MS = 60_000;

/** Settings of the notifications subgraph beyond the shared service config. */
export interface NotificationsSettings {
  /** See `DEFAULT_REMINDER_GRACE_MS`. */
  reminderGraceMs: number;
  /** Retry interval of a failed job trigger (Dapr failure policy / embedded retries); default 5 s. */
  jobRetryIntervalMs: number;
  /** Retries of a failed job trigger; default 3. */
  jobMaxRetries: number;
}

export type NotificationsConfig = ServiceConfig & Partial<NotificationsSettings>;

/** Reads the environment (CONVENTIONS §6): the shared variables plus `REMINDER_GRACE_SECONDS`. */
export function loadNotificationsConfig(env: NodeJS.ProcessEnv = process.env): NotificationsConfig {
  const base = loadServiceConfig(SERVICE.port, env);
  const own = parseEnv(
    {
      REMINDER_GRACE_SECONDS: z.coerce
        .number()
        .int()
        .min(0)
        .max(86_400)
        .default(DEFAULT_REMINDER_GRACE_MS / 1000),
    },
    env,
  );
  return { ...base, reminderGraceMs: own.REMINDER_GRACE_SECONDS * 1000 };
}

export function resolveSettings(config: NotificationsConfig): NotificationsSettings {
  return {
    reminderGraceMs: config.reminderGraceMs ?? DEFAULT_REMINDER_GRACE_MS,
    jobRetryIntervalMs: config.jobRetryIntervalMs ?? 5_000,
    jobMaxRetries: config.jobMaxRetries ?? 3,
  };
}
