// The brief page cache and the coalescing of identical in-flight calls (SPEC "Caching and coalescing").
import { LRUCache } from 'lru-cache';
import { Problem } from '../problem.js';
import { newTrace, type UpstreamPage, type UpstreamTrace } from '../upstream/ntropy-client.js';

export interface ServedPage extends UpstreamPage {
  /** The page is in the cache (it was stored by this call, or served from it). */
  isStored: boolean;
  /** Freshness left on a hit. */
  ttlLeftMs: number | undefined;
}

export interface PageLookup {
  cache: 'HIT' | 'MISS';
  /** This request joined another request's upstream call. */
  isCollapsed: boolean;
  /** The upstream call's trace, shared by every waiter of that call (no attempts on a hit). */
  trace: UpstreamTrace;
  page: Promise<ServedPage>;
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

  function awaitFlight(flight: Flight, waiter: Waiter): Promise<ServedPage> {
    flight.waiters += 1;
    return new Promise<ServedPage>((resolve, reject) => {
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
        ({ page, isStored }) => {
          cleanup();
          resolve({ ...page, isStored, ttlLeftMs: undefined });
        },
        (error: unknown) => {
          cleanup();
          reject(asError(error));
        },
      );
    });
  }

  return {
    lookup(key: string, waiter: Waiter): PageLookup {
      const status: LRUCache.Status<string, UpstreamPage> = {};
      const cached = store?.get(key, { status });
      if (cached !== undefined) {
        const page = { ...cached, isStored: true, ttlLeftMs: status.remainingTTL };
        return { cache: 'HIT', isCollapsed: false, trace: newTrace(), page: Promise.resolve(page) };
      }
      const joined = inFlight.get(key);
      const flight = joined ?? startFlight(key, waiter);
      return {
        cache: 'MISS',
        isCollapsed: joined !== undefined,
        trace: flight.trace,
        page: awaitFlight(flight, waiter),
      };
    },
    get size(): number {
      return store?.size ?? 0;
    },
  };
}

export type PageCache = ReturnType<typeof createPageCache>;

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}
