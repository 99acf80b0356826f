// Redis health as operators see it (SPEC "Replicas and shared state"): the gauge, the error count, one warning per outage.
import type { Logger } from 'pino';

/** Where the health goes besides the log: the two Redis metrics. */
export interface RedisObserver {
  setUp(isUp: boolean): void;
  countError(): void;
}

export interface RedisHealth {
  /** A command answered or the connection became ready. */
  reportUp(): void;
  /** A command failed or timed out, or the connection failed; `cause` is a code or error name, never a message. */
  reportFailure(cause: string): void;
  /** Redis answered a command with an error (OOM, READONLY, NOPERM, ...): it is reachable, but refusing. */
  reportRefusal(cause: string): void;
}

/** Refusals this far apart are two outages, each with its warning; closer ones are one. */
export const REFUSAL_QUIET_MS = 60_000;

export function createRedisHealth(options: {
  logger: Logger;
  observer: RedisObserver;
  target: string;
  now?: () => number;
}): RedisHealth {
  const { logger, observer, target } = options;
  const now = options.now ?? Date.now;
  let lastRefusalAtMs: number | undefined;
  // 'connecting' until the first answer, so a Redis that is down at startup is one outage, not zero.
  let state: 'connecting' | 'up' | 'down' = 'connecting';
  observer.setUp(false);
  return {
    reportUp() {
      if (state === 'up') return;
      logger.info(
        { redis: target },
        state === 'down'
          ? 'redis is back: sharing state across replicas again'
          : 'redis connected: sharing state across replicas',
      );
      state = 'up';
      observer.setUp(true);
    },
    reportFailure(cause) {
      observer.countError();
      if (state === 'down') return;
      // One line per outage, not per request: a reconnect loop or a burst of requests must not flood the log.
      logger.warn({ redis: target, cause }, 'redis unavailable: carrying on with local state');
      state = 'down';
      observer.setUp(false);
    },
    reportRefusal(cause) {
      observer.countError();
      // A Redis that refuses writes (out of memory, a read-only replica after a failover) still answers
      // reads: up and down would alternate with every command. So the gauge stays as it is (Redis answers),
      // and one warning covers refusals until REFUSAL_QUIET_MS pass without one.
      const nowMs = now();
      const isNewOutage = lastRefusalAtMs === undefined || nowMs - lastRefusalAtMs >= REFUSAL_QUIET_MS;
      lastRefusalAtMs = nowMs;
      if (isNewOutage)
        logger.warn({ redis: target, cause }, 'redis refused a command: carrying on with local state');
    },
  };
}
