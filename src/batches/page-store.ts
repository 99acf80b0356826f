// Where pages are kept: fresh for CACHE_TTL_MS, then stale for CACHE_STALE_IF_ERROR_MS (SPEC "Caching", "Serving stale").
import { LRUCache } from 'lru-cache';
import type { UpstreamPage } from '../upstream/upstream-page.js';

export interface FreshPage {
  page: UpstreamPage;
  /** Freshness left. */
  ttlLeftMs: number;
}

export interface KeptPage {
  page: UpstreamPage;
  /** How long it has been stale; 0 or less while it is still fresh. */
  staleForMs: number;
}

/**
 * The page store behind one interface: the hit path (`getFresh`) is synchronous; what the miss path
 * uses may be async, so that a store shared by several replicas can sit behind it.
 */
export interface PageStore {
  getFresh(key: string): FreshPage | undefined;
  /** The page kept for `key`, fresh or stale (for an answer instead of an upstream error). */
  getKept(key: string): Promise<KeptPage | undefined>;
  /** Stores a page; resolves to whether it was stored (a page over the byte bound is not). */
  set(key: string, page: UpstreamPage): Promise<boolean>;
}

/** This process's own store, and what a shared store needs of it: a copy that goes stale when the shared entry does. */
export interface LocalPageStore extends PageStore {
  /** Stores `page` fresh until `freshUntilMs`, then kept for the stale window; returns whether it was stored. */
  keep(key: string, page: UpstreamPage, freshUntilMs: number): boolean;
}

export interface PageStoreOptions {
  ttlMs: number;
  staleIfErrorMs: number;
  maxEntries: number;
  maxBytes: number;
  now: () => number;
}

// lru-cache's own stale mode (allowStale, noDeleteOnStaleGet) keeps an expired entry with no end until
// it is evicted, while stale-if-error (RFC 5861) has a window. So the LRU's ttl is an entry's whole life,
// fresh then stale, and lru-cache's remaining TTL says which part of it we are in: fresh while more than
// the stale window is left. Stale entries thus count towards `max` and `maxSize` like any other.
export function createLocalPageStore(options: PageStoreOptions): LocalPageStore {
  const { ttlMs, staleIfErrorMs } = options;
  const lru =
    ttlMs > 0
      ? new LRUCache<string, UpstreamPage>({
          max: options.maxEntries,
          maxSize: options.maxBytes,
          sizeCalculation: (page) => Math.max(1, page.body.length),
          ttl: ttlMs + staleIfErrorMs,
          perf: { now: options.now },
        })
      : undefined;

  function read(key: string): { page: UpstreamPage; leftMs: number } | undefined {
    if (lru === undefined) return undefined;
    const status: LRUCache.Status<string, UpstreamPage> = {};
    const page = lru.get(key, { status });
    const leftMs = status.remainingTTL ?? 0;
    // lru-cache still returns an entry at the very instant its TTL ends: by then its window is over.
    return page === undefined || leftMs <= 0 ? undefined : { page, leftMs };
  }

  return {
    getFresh(key) {
      const kept = read(key);
      if (kept === undefined || kept.leftMs <= staleIfErrorMs) return undefined;
      return { page: kept.page, ttlLeftMs: kept.leftMs - staleIfErrorMs };
    },
    getKept(key) {
      const kept = read(key);
      return Promise.resolve(
        kept === undefined ? undefined : { page: kept.page, staleForMs: staleIfErrorMs - kept.leftMs },
      );
    },
    set(key, page) {
      if (lru === undefined) return Promise.resolve(false);
      lru.set(key, page);
      return Promise.resolve(lru.has(key));
    },
    keep(key, page, freshUntilMs) {
      const lifeMs = freshUntilMs - options.now() + staleIfErrorMs;
      if (lru === undefined || lifeMs <= 0) return false;
      lru.set(key, page, { ttl: lifeMs });
      return lru.has(key);
    },
  };
}
