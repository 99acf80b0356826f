// The page store over lru-cache (SPEC "Caching", "Serving stale"): fresh for CACHE_TTL_MS, then kept for the stale window.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createLocalPageStore, type PageStoreOptions } from '../src/batches/page-store.js';
import type { UpstreamPage } from '../src/upstream/upstream-page.js';

function pageOf(tag: string, fetchedAtMs = 0): UpstreamPage {
  return {
    body: Buffer.from(`{"next_cursor":null,"data":[],"tag":"${tag}"}`),
    upstreamRequestId: tag,
    fetchedAtMs,
  };
}

/** A store on a clock the test sets; lru-cache reads it through `perf.now`. */
function storeAt(options: Partial<PageStoreOptions> = {}) {
  let nowMs = 1_000_000;
  const store = createLocalPageStore({
    ttlMs: 1000,
    staleIfErrorMs: 5000,
    maxEntries: 10,
    maxBytes: 10_000,
    now: () => nowMs,
    ...options,
  });
  const moveTo = async (ms: number): Promise<void> => {
    nowMs = 1_000_000 + ms;
    // lru-cache reuses a clock reading for 1 ms of real time (ttlResolution): let it read again.
    await sleep(5);
  };
  return { store, moveTo };
}

describe('the page store — fresh, then stale, then gone', () => {
  it.each<[number, number | undefined, number | undefined]>([
    // [ms after storing, freshness left (a hit), stale for (kept)]
    [0, 1000, -1000],
    [999, 1, -1],
    [1000, undefined, 0],
    [3500, undefined, 2500],
    [5999, undefined, 4999],
    [6000, undefined, undefined],
  ])(
    '%i ms after storing: fresh for %s ms more, kept stale for %s ms',
    async (afterMs, ttlLeftMs, staleForMs) => {
      const { store, moveTo } = storeAt();
      expect(await store.set('k', pageOf('a'))).toBe(true);
      await moveTo(afterMs);
      expect(store.getFresh('k')?.ttlLeftMs).toBe(ttlLeftMs);
      expect((await store.getKept('k'))?.staleForMs).toBe(staleForMs);
    },
  );

  it('keeps nothing past freshness with CACHE_STALE_IF_ERROR_MS=0', async () => {
    const { store, moveTo } = storeAt({ staleIfErrorMs: 0 });
    await store.set('k', pageOf('a'));
    await moveTo(1000);
    expect(store.getFresh('k')).toBeUndefined();
    expect(await store.getKept('k')).toBeUndefined();
  });

  it('keeps nothing at all with CACHE_TTL_MS=0', async () => {
    const { store } = storeAt({ ttlMs: 0 });
    expect(await store.set('k', pageOf('a'))).toBe(false);
    expect(await store.getKept('k')).toBeUndefined();
  });

  it('does not store a page over the byte bound, and counts stale pages against it', async () => {
    const { store, moveTo } = storeAt({ maxBytes: 100 });
    const sized = (tag: string, bytes: number) => ({ ...pageOf(tag), body: Buffer.alloc(bytes, 32) });
    expect(await store.set('big', sized('big', 101))).toBe(false);
    await store.set('a', sized('a', 60));
    await moveTo(2000);
    await store.set('b', sized('b', 60));
    expect(await store.getKept('a')).toBeUndefined();
    expect((await store.getKept('b'))?.page.upstreamRequestId).toBe('b');
  });
});

describe('the page store — a copy of a page another replica shared', () => {
  it.each<[number, number, number | undefined, number | undefined]>([
    // [shared entry fresh for (ms after copying), ms after copying, freshness left, stale for]
    [400, 0, 400, -400],
    [400, 399, 1, -1],
    [400, 400, undefined, 0],
    [400, 5399, undefined, 4999],
    [400, 5400, undefined, undefined],
    [-2000, 0, undefined, 2000],
  ])(
    'fresh for %i ms in the shared entry, %i ms after the copy: fresh for %s ms more, kept stale for %s ms',
    async (sharedFreshForMs, afterMs, ttlLeftMs, staleForMs) => {
      const { store, moveTo } = storeAt();
      expect(store.keep('k', pageOf('a'), 1_000_000 + sharedFreshForMs)).toBe(true);
      await moveTo(afterMs);
      expect(store.getFresh('k')?.ttlLeftMs).toBe(ttlLeftMs);
      expect((await store.getKept('k'))?.staleForMs).toBe(staleForMs);
    },
  );

  it('keeps no copy of an entry whose stale window is over, nor any with CACHE_TTL_MS=0', () => {
    expect(storeAt().store.keep('k', pageOf('a'), 1_000_000 - 5000)).toBe(false);
    expect(storeAt({ ttlMs: 0 }).store.keep('k', pageOf('a'), 1_000_500)).toBe(false);
  });
});
