// Pages shared by replicas (SPEC "Replicas and shared state"): Redis as L2 behind this process's lru-cache as L1.
import type { KeptPage, LocalPageStore, PageStore } from '../batches/page-store.js';
import type { UpstreamPage } from '../upstream/upstream-page.js';
import { decodePageEntry, encodePageEntry, type PageEntry } from './page-entry.js';
import type { RedisConnection } from './redis-connection.js';

export interface SharedPageStore extends PageStore {
  /** Copies an entry read from Redis into L1, fresh until the shared entry stops being fresh. */
  keepLocally(key: string, entry: PageEntry): void;
}

export interface SharedPageStoreOptions {
  local: LocalPageStore;
  connection: RedisConnection;
  /** REDIS_KEY_PREFIX. */
  keyPrefix: string;
  ttlMs: number;
  staleIfErrorMs: number;
  now: () => number;
}

/**
 * The hit path stays synchronous and in the process (`getFresh` reads L1 only); the shared flight reads
 * Redis on an L1 miss before going upstream (see shared-flights.ts). An L1 copy of a shared entry is
 * fresh only until the shared entry's own `fresh_until_ms`, so replicas agree on freshness and Age.
 * Each Redis key lives for the fresh and stale windows (PX), which bounds Redis's memory.
 */
export function createSharedPageStore(options: SharedPageStoreOptions): SharedPageStore {
  const { local, connection, keyPrefix, ttlMs, staleIfErrorMs, now } = options;

  function keepLocally(key: string, entry: PageEntry): void {
    local.keep(key, entry.page, entry.freshUntilMs);
  }

  /** The entry Redis holds for `key` (fresh or stale); undefined when none, or when Redis cannot answer. */
  async function readShared(key: string): Promise<PageEntry | undefined> {
    const value = await connection
      .run((send) => send(['GET', pageKey(keyPrefix, key)], { asBuffers: true }))
      .catch(() => undefined);
    const entry = decodePageEntry(value);
    return entry === undefined || entry.staleUntilMs <= now() ? undefined : entry;
  }

  async function writeShared(key: string, page: UpstreamPage, freshUntilMs: number): Promise<void> {
    const staleUntilMs = freshUntilMs + staleIfErrorMs;
    const value = encodePageEntry({ page, freshUntilMs, staleUntilMs });
    // PX from this replica's clock, like every instant in the entry: Redis's own clock plays no part.
    const lifeMs = String(Math.max(1, Math.ceil(staleUntilMs - now())));
    await connection
      .run((send) => send(['SET', pageKey(keyPrefix, key), value, 'PX', lifeMs]))
      .catch(() => {});
  }

  async function readKept(key: string): Promise<KeptPage | undefined> {
    // SPEC "Serving stale": stale pages are shared like fresh ones, and a page another replica
    // fetched since this one's went stale is the better answer.
    const kept = await local.getKept(key);
    if (kept !== undefined && kept.staleForMs < 0) return kept;
    const entry = await readShared(key);
    const staleForMs = entry && now() - entry.freshUntilMs;
    if (entry === undefined || staleForMs === undefined) return kept;
    if (kept !== undefined && kept.staleForMs <= staleForMs) return kept;
    keepLocally(key, entry);
    return { page: entry.page, staleForMs };
  }

  // Every waiter of a failed call asks at once: one read of a page (up to CACHE_MAX_BYTES) serves them all.
  const keptReads = new Map<string, Promise<KeptPage | undefined>>();

  return {
    keepLocally,
    getFresh: (key) => local.getFresh(key),
    getKept(key) {
      let read = keptReads.get(key);
      if (read === undefined) {
        read = readKept(key).finally(() => keptReads.delete(key));
        keptReads.set(key, read);
      }
      return read;
    },
    async set(key, page) {
      const freshUntilMs = now() + ttlMs;
      // What L1 will not keep (CACHE_TTL_MS=0, or a page over CACHE_MAX_BYTES) is not shared either.
      if (!local.keep(key, page, freshUntilMs)) return false;
      await writeShared(key, page, freshUntilMs);
      return true;
    },
  };
}

/** The Redis key of the page entry for a canonical query. */
export function pageKey(keyPrefix: string, query: string): string {
  return `${keyPrefix}page:${query}`;
}
