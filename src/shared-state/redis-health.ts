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
}

export function createRedisHealth(options: {
  logger: Logger;
  observer: RedisObserver;
  target: string;
}): RedisHealth {
  const { logger, observer, target } = options;
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
  };
}
