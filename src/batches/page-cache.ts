// The brief page cache and the coalescing of identical in-flight calls (SPEC "Caching and coalescing").
import { LRUCache } from 'lru-cache';
import { Problem } from '../problem.js';
import { newTrace, type UpstreamPage, type UpstreamTrace } from '../upstream/ntropy-client.js';

export interface CachedPage {
  page: UpstreamPage;
  /** Freshness left. */
  ttlLeftMs: number;
}

export interface JoinedCall {
  /** This request joined another request's upstream call. */
  isCollapsed: boolean;
  /** The upstream call's trace, shared by every waiter of that call. */
  trace: UpstreamTrace;
  /** The page, and whether it was stored in the cache. */
  result: Promise<{ page: UpstreamPage; isStored: boolean }>;
}

export interface Waiter {
  requestId: string;
  deadlineAtMs: number;
  /** Aborts when this waiter's client has gone. */
  signal: AbortSignal;
}

export type LoadPage = (
  key: string,
  call: { requestId: string; deadlineAtMs: number; signal: AbortSignal; trace: UpstreamTrace },
) => Promise<UpstreamPage>;

export interface PageCacheOptions {
  ttlMs: number;
  maxEntries: number;
  maxBytes: number;
  load: LoadPage;
  now?: () => number;
}

interface Flight {
  key: string;
  settled: Promise<{ page: UpstreamPage; isStored: boolean }>;
  controller: AbortController;
  deadlineAtMs: number;
  trace: UpstreamTrace;
  waiters: number;
}

// Not lru-cache's fetch(): it ties the shared load to the first caller's abort signal and options,
// and with nothing stored (CACHE_TTL_MS=0) it cannot coalesce. A small map with a waiter count lets
// every waiter leave on its own and cancels the call only when the last one has gone.
export function createPageCache(options: PageCacheOptions) {
  const now = options.now ?? Date.now;
  const store =
    options.ttlMs > 0
      ? new LRUCache<string, UpstreamPage>({
          max: options.maxEntries,
          maxSize: options.maxBytes,
          sizeCalculation: (page) => Math.max(1, page.body.length),
          ttl: options.ttlMs,
          perf: { now },
        })
      : undefined;
  const inFlight = new Map<string, Flight>();

  function startFlight(key: string, waiter: Waiter): Flight {
    const controller = new AbortController();
    const trace = newTrace();
    const call = {
      requestId: waiter.requestId,
      deadlineAtMs: waiter.deadlineAtMs,
      signal: controller.signal,
      trace,
    };
    const settled = options.load(key, call).then((page) => {
      store?.set(key, page);
      return { page, isStored: store?.has(key) ?? false };
    });
    const flight: Flight = { key, settled, controller, deadlineAtMs: waiter.deadlineAtMs, trace, waiters: 0 };
    inFlight.set(key, flight);
    // Failures reach every waiter and are never stored; the next request goes upstream again.
    const forget = () => forgetFlight(flight);
    settled.then(forget, forget);
    return flight;
  }

  function forgetFlight(flight: Flight): void {
    if (inFlight.get(flight.key) === flight) inFlight.delete(flight.key);
  }

  function awaitFlight(flight: Flight, waiter: Waiter): Promise<{ page: UpstreamPage; isStored: boolean }> {
    flight.waiters += 1;
    return new Promise((resolve, reject) => {
      const leave = (reason: Error) => {
        cleanup();
        flight.waiters -= 1;
        if (flight.waiters === 0) {
          // Nobody waits any more: cancel the call, and let the next request start afresh.
          forgetFlight(flight);
          flight.controller.abort(reason);
        }
        reject(reason);
      };
      const onAbort = () => leave(asError(waiter.signal.reason));
      // A joiner whose own deadline comes before the call's keeps it (SPEC "Caching and coalescing").
      const timer =
        waiter.deadlineAtMs < flight.deadlineAtMs
          ? setTimeout(
              () => leave(new Problem('upstream_timeout', 'The request deadline ran out')),
              Math.max(0, waiter.deadlineAtMs - now()),
            )
          : undefined;
      const cleanup = () => {
        clearTimeout(timer);
        waiter.signal.removeEventListener('abort', onAbort);
      };
      if (waiter.signal.aborted) return leave(asError(waiter.signal.reason));
      waiter.signal.addEventListener('abort', onAbort, { once: true });
      flight.settled.then(
        (result) => {
          cleanup();
          resolve(result);
        },
        (error: unknown) => {
          cleanup();
          reject(asError(error));
        },
      );
    });
  }

  return {
    /** A fresh stored page, or undefined. */
    getFresh(key: string): CachedPage | undefined {
      if (store === undefined) return undefined;
      const status: LRUCache.Status<string, UpstreamPage> = {};
      const page = store.get(key, { status });
      return page === undefined ? undefined : { page, ttlLeftMs: status.remainingTTL ?? 0 };
    },
    /** Joins the upstream call in flight for this key, or starts one. */
    join(key: string, waiter: Waiter): JoinedCall {
      const joined = inFlight.get(key);
      const flight = joined ?? startFlight(key, waiter);
      return { isCollapsed: joined !== undefined, trace: flight.trace, result: awaitFlight(flight, waiter) };
    },
  };
}

export type PageCache = ReturnType<typeof createPageCache>;

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}
