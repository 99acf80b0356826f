// Wakes the flights of this replica that wait on a query when another replica announces that query's outcome.

export interface FlightNotice {
  /** Resolves at the next notice for the query (at once if one came since the last call), after `pollMs`, or on abort. */
  next(pollMs: number, signal: AbortSignal): Promise<void>;
  close(): void;
}

/**
 * One pub/sub channel carries every query's notices; each waiting flight listens for its own query.
 * A notice only says "look now": the waiter reads the outcome from Redis, so a lost or late message
 * costs at most one poll interval.
 */
export function createFlightNotices() {
  const listeners = new Map<string, Set<() => void>>();

  return {
    /** The subscription's listener: the message is the query whose outcome was announced. */
    notify(key: string): void {
      for (const wake of listeners.get(key) ?? []) wake();
    },
    listen(key: string): FlightNotice {
      let isNoticed = false;
      let wakeNow: (() => void) | undefined;
      const wake = () => {
        isNoticed = true;
        wakeNow?.();
      };
      const set = listeners.get(key) ?? new Set();
      set.add(wake);
      listeners.set(key, set);
      return {
        next(pollMs, signal) {
          if (isNoticed) {
            isNoticed = false;
            return Promise.resolve();
          }
          return new Promise((resolve) => {
            const done = () => {
              clearTimeout(timer);
              signal.removeEventListener('abort', done);
              wakeNow = undefined;
              isNoticed = false;
              resolve();
            };
            const timer = setTimeout(done, pollMs);
            signal.addEventListener('abort', done, { once: true });
            wakeNow = done;
          });
        },
        close() {
          set.delete(wake);
          if (set.size === 0 && listeners.get(key) === set) listeners.delete(key);
        },
      };
    },
  };
}
