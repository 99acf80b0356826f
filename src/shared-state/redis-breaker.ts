// After Redis fails to answer in time, stops asking it until a health check answers: one bound per request, not one per feature.

/** While open, how often Redis is asked whether it answers again (each check bounded by REDIS_TIMEOUT_MS). */
const BREAKER_PROBE_INTERVAL_MS = 500;

export interface RedisBreaker {
  /** Whether calls should skip Redis now. */
  readonly isOpen: boolean;
  /** A call timed out or the connection failed: skip Redis until `check` answers. */
  open(): void;
  /** Redis answered (a check, or the connection became ready): calls may use it again. */
  close(): void;
  /** Stops checking for good (the connection is closing). */
  stop(): void;
}

/**
 * SPEC "Replicas and shared state": a slow Redis costs a request at most about REDIS_TIMEOUT_MS. One
 * request may ask Redis several times (limit, page, lock, pause, hold), and a Redis that is connected
 * but silent (stopped, or behind a black-holed network) would make each of them wait the whole bound.
 * So the first timeout opens the breaker; later calls fall back to local state at once, and a check
 * every BREAKER_PROBE_INTERVAL_MS closes it when Redis answers again. No library in use offers this:
 * node-redis only bounds single commands.
 */
export function createRedisBreaker(check: () => Promise<unknown>): RedisBreaker {
  let isOpen = false;
  let isStopped = false;
  let timer: NodeJS.Timeout | undefined;

  function scheduleCheck(): void {
    timer = setTimeout(() => {
      check().then(
        () => breaker.close(),
        () => {
          if (isOpen && !isStopped) scheduleCheck();
        },
      );
    }, BREAKER_PROBE_INTERVAL_MS);
    // A check pending must not keep the process alive.
    timer.unref();
  }

  const breaker: RedisBreaker = {
    get isOpen() {
      return isOpen;
    },
    open() {
      if (isOpen || isStopped) return;
      isOpen = true;
      scheduleCheck();
    },
    close() {
      isOpen = false;
      clearTimeout(timer);
    },
    stop() {
      isStopped = true;
      breaker.close();
    },
  };
  return breaker;
}
