// SPEC "Caching and coalescing" (the page cache) and the cache headers of a GET /v3/batches success.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness, type HarnessOptions } from './helpers/harness.js';
import { bearer, signToken } from './helpers/tokens.js';

const MISS_STORED = 'ntropy-bff; fwd=uri-miss; fwd-status=200; stored';
const MISS_NOT_STORED = 'ntropy-bff; fwd=uri-miss; fwd-status=200';
const HIT = /^ntropy-bff; hit; ttl=(\d+)$/;

/**
 * A fresh harness (and so an empty cache) for every test of the enclosing describe. Its upstream answers
 * a 200 page to any query (a made-up cursor included) unless a test enqueues something else.
 */
function useHarness(options: HarnessOptions = {}): () => Harness {
  let harness: Harness | undefined;
  beforeEach(async () => {
    harness = await startHarness(options);
    harness.upstream.setDefault({});
  });
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });
  return () => {
    if (harness === undefined) throw new Error('harness not started');
    return harness;
  };
}

function get(h: Harness, target: string, token: string = signToken()) {
  return h.request.get(`/v3/batches${target}`).set('Authorization', bearer(token));
}

/** A valid page body of exactly `bytes` bytes, told apart from others by its tag. */
function pageOfBytes(bytes: number, tag: string): string {
  const head = `{"next_cursor":null,"data":[],"tag":"${tag}","pad":"`;
  const tail = '"}';
  return head + 'x'.repeat(bytes - head.length - tail.length) + tail;
}

function ttlOf(cacheStatus: string | undefined): number {
  const match = HIT.exec(cacheStatus ?? '');
  if (match?.[1] === undefined) throw new Error(`not a hit Cache-Status: ${String(cacheStatus)}`);
  return Number(match[1]);
}

describe('GET /v3/batches — cache hits and misses', () => {
  const harness = useHarness();

  it('answers the first request as a stored MISS and the identical second one as a HIT from the same upstream call', async () => {
    const h = harness();
    const body = '{"next_cursor":"c2","data":[]}';
    h.upstream.enqueue(
      { body, headers: { 'x-request-id': 'up-1' } },
      { body: '{"next_cursor":null,"data":[]}', headers: { 'x-request-id': 'up-2' } },
    );

    const first = await get(h, '?status=completed');
    const second = await get(h, '?status=completed');

    expect(h.upstream.received).toHaveLength(1);
    expect(first.status).toBe(200);
    expect(first.text).toBe(body);
    expect(first.headers['x-cache']).toBe('MISS');
    expect(first.headers['cache-status']).toBe(MISS_STORED);
    expect(first.headers['x-upstream-request-id']).toBe('up-1');
    expect(first.headers['cache-control']).toBe('private, no-store');
    expect(first.headers.age).toBeUndefined();

    expect(second.status).toBe(200);
    expect(second.text).toBe(body);
    expect(second.headers['content-type']).toBe('application/json');
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.headers['cache-status']).toMatch(HIT);
    // CACHE_TTL_MS=5000 and the hit follows at once: 4 whole seconds left, 5 within the same millisecond.
    expect(ttlOf(second.headers['cache-status'])).toBeGreaterThanOrEqual(4);
    expect(ttlOf(second.headers['cache-status'])).toBeLessThanOrEqual(5);
    expect(second.headers.age).toMatch(/^\d+$/);
    expect(Number(second.headers.age)).toBeLessThanOrEqual(5);
    expect(second.headers['x-upstream-request-id']).toBe('up-1');
    expect(second.headers['cache-control']).toBe('private, no-store');
    expect(second.headers['x-request-id']).not.toBe(first.headers['x-request-id']);
  });

  it('shares the cache across users: a page fetched for alice is a HIT for bob', async () => {
    const h = harness();

    const forAlice = await get(h, '', signToken({ claims: { sub: 'alice' } }));
    const forBob = await get(h, '', signToken({ claims: { sub: 'bob' } }));

    expect(h.upstream.received).toHaveLength(1);
    expect(forAlice.headers['x-cache']).toBe('MISS');
    expect(forBob.status).toBe(200);
    expect(forBob.headers['x-cache']).toBe('HIT');
    expect(forBob.text).toBe(forAlice.text);
    const bobLine = h.logs.auditLines().find((line) => line.sub === 'bob');
    expect(bobLine?.cache).toBe('HIT');
  });

  it('logs cache MISS then HIT in the audit lines, and a hit made no upstream attempt', async () => {
    const h = harness();
    h.upstream.enqueue({ headers: { 'x-request-id': 'up-audit' } });

    const miss = await get(h, '?limit=5');
    const hit = await get(h, '?limit=5');

    const lines = h.logs.auditLines();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      request_id: miss.headers['x-request-id'],
      status: 200,
      cache: 'MISS',
      upstream_status: 200,
      upstream_attempts: 1,
      upstream_request_id: 'up-audit',
    });
    expect(lines[1]).toMatchObject({
      request_id: hit.headers['x-request-id'],
      status: 200,
      cache: 'HIT',
      upstream_attempts: 0,
      upstream_request_id: 'up-audit',
    });
  });
});

describe('GET /v3/batches — cache key', () => {
  const harness = useHarness();

  it.each([
    ['no query, an empty query and the default limit', ['', '?', '?limit=10']],
    [
      'the same parameters in any order, with or without the default limit',
      [
        '?status=completed&limit=10&cursor=abc',
        '?cursor=abc&status=completed',
        '?limit=10&cursor=abc&status=completed',
      ],
    ],
    [
      'datetimes with different offsets that denote the same instant',
      [
        '?created_after=2026-09-01T02:00:00%2B02:00',
        '?created_after=2026-08-31T19:30:00-04:30',
        '?created_after=2026-09-01T00:00:00Z',
        '?created_after=2026-09-01T00:00:00-00:00',
        '?created_after=2026-09-01T00:00:00.000Z',
      ],
    ],
    [
      'a bare date, midnight Z and an offsetless midnight',
      [
        '?created_before=2026-10-02',
        '?created_before=2026-10-02T00:00:00Z',
        '?created_before=2026-10-02T00:00:00',
      ],
    ],
  ])('maps %s to one entry (one upstream call)', async (_case, targets) => {
    const h = harness();

    const responses = [];
    for (const target of targets) responses.push(await get(h, target));

    expect(h.upstream.received).toHaveLength(1);
    expect(responses.map((res) => res.status)).toEqual(targets.map(() => 200));
    expect(responses.map((res) => res.headers['x-cache'])).toEqual(
      targets.map((_target, index) => (index === 0 ? 'MISS' : 'HIT')),
    );
    expect(new Set(responses.map((res) => res.text)).size).toBe(1);
  });

  it.each([
    ['cursors', ['?cursor=a', '?cursor=b']],
    ['limits', ['?limit=5', '?limit=6', '?limit=10']],
    ['statuses', ['?status=processing', '?status=completed', '?status=error', '']],
    ['instants', ['?created_after=2026-09-01T00:00:00Z', '?created_after=2026-09-01T00:00:00.001Z']],
  ])('keeps distinct %s as distinct entries, each with its own page', async (_case, targets) => {
    const h = harness();
    const bodies = targets.map((_target, index) => pageOfBytes(200, `page-${index}`));
    h.upstream.enqueue(...bodies.map((body) => ({ body })));

    const misses = [];
    for (const target of targets) misses.push(await get(h, target));
    const hits = [];
    for (const target of targets) hits.push(await get(h, target));

    expect(h.upstream.received).toHaveLength(targets.length);
    expect(misses.map((res) => res.headers['x-cache'])).toEqual(targets.map(() => 'MISS'));
    expect(misses.map((res) => res.text)).toEqual(bodies);
    expect(hits.map((res) => res.headers['x-cache'])).toEqual(targets.map(() => 'HIT'));
    expect(hits.map((res) => res.text)).toEqual(bodies);
  });
});

describe('GET /v3/batches — cache freshness (injected clock)', () => {
  let offsetMs = 0;
  const harness = useHarness({ now: () => Date.now() + offsetMs });
  beforeEach(() => {
    offsetMs = 0;
  });

  // lru-cache reuses its clock reading for 1 ms; a short pause makes it read the moved clock.
  async function advanceClockTo(ms: number): Promise<void> {
    offsetMs = ms;
    await sleep(5);
  }

  it('reports whole seconds of freshness left, rounded down, and the whole seconds of Age', async () => {
    const h = harness();
    await get(h, '');

    await advanceClockTo(1200);
    const early = await get(h, '');
    await advanceClockTo(4300);
    const late = await get(h, '');

    expect(h.upstream.received).toHaveLength(1);
    expect(early.headers['cache-status']).toBe('ntropy-bff; hit; ttl=3');
    expect(early.headers.age).toBe('1');
    expect(late.headers['cache-status']).toBe('ntropy-bff; hit; ttl=0');
    expect(late.headers.age).toBe('4');
  });

  it('goes upstream again once CACHE_TTL_MS has passed, and stores the new page', async () => {
    const h = harness();
    h.upstream.enqueue({ headers: { 'x-request-id': 'up-old' } }, { headers: { 'x-request-id': 'up-new' } });
    await get(h, '');

    await advanceClockTo(5001);
    const expired = await get(h, '');
    const again = await get(h, '');

    expect(h.upstream.received).toHaveLength(2);
    expect(expired.headers['x-cache']).toBe('MISS');
    expect(expired.headers['cache-status']).toBe(MISS_STORED);
    expect(expired.headers['x-upstream-request-id']).toBe('up-new');
    expect(again.headers['x-cache']).toBe('HIT');
    expect(again.headers['x-upstream-request-id']).toBe('up-new');
  });
});

describe('GET /v3/batches — cache freshness (real clock)', () => {
  describe('with CACHE_TTL_MS=150', () => {
    const harness = useHarness({ env: { CACHE_TTL_MS: '150' } });

    it('goes upstream again once a stored page is older than the TTL', async () => {
      const h = harness();
      const stored = await get(h, '');
      expect(stored.headers['cache-status']).toBe(MISS_STORED);

      await sleep(250);
      const expired = await get(h, '');

      expect(h.upstream.received).toHaveLength(2);
      expect(expired.headers['x-cache']).toBe('MISS');
      expect(expired.headers['cache-status']).toBe(MISS_STORED);
    });
  });

  describe('with CACHE_TTL_MS=0', () => {
    const harness = useHarness({ env: { CACHE_TTL_MS: '0' } });

    it('disables caching: every request goes upstream and nothing is stored', async () => {
      const h = harness();

      const responses = [];
      for (let i = 0; i < 3; i += 1) responses.push(await get(h, '?status=completed'));

      expect(h.upstream.received).toHaveLength(3);
      for (const res of responses) {
        expect(res.status).toBe(200);
        expect(res.headers['x-cache']).toBe('MISS');
        expect(res.headers['cache-status']).toBe(MISS_NOT_STORED);
      }
    });
  });
});

describe('GET /v3/batches — cache bounds', () => {
  describe('with CACHE_MAX_ENTRIES=2', () => {
    const harness = useHarness({ env: { CACHE_MAX_ENTRIES: '2' } });

    it('evicts the least recently used entry when a third is added', async () => {
      const h = harness();
      for (const cursor of ['A', 'B', 'C']) await get(h, `?cursor=${cursor}`);
      expect(h.upstream.received).toHaveLength(3);

      const c = await get(h, '?cursor=C');
      const b = await get(h, '?cursor=B');
      expect([c.headers['x-cache'], b.headers['x-cache']]).toEqual(['HIT', 'HIT']);
      expect(h.upstream.received).toHaveLength(3);

      const a = await get(h, '?cursor=A');
      expect(a.headers['x-cache']).toBe('MISS');
      expect(h.upstream.received).toHaveLength(4);
    });

    it('keeps an entry that was read since, evicting the one used least recently instead', async () => {
      const h = harness();
      await get(h, '?cursor=A');
      await get(h, '?cursor=B');
      const touched = await get(h, '?cursor=A');
      expect(touched.headers['x-cache']).toBe('HIT');

      await get(h, '?cursor=C');
      const a = await get(h, '?cursor=A');
      const c = await get(h, '?cursor=C');
      expect([a.headers['x-cache'], c.headers['x-cache']]).toEqual(['HIT', 'HIT']);
      expect(h.upstream.received).toHaveLength(3);

      const b = await get(h, '?cursor=B');
      expect(b.headers['x-cache']).toBe('MISS');
      expect(h.upstream.received).toHaveLength(4);
    });
  });

  describe('with CACHE_MAX_BYTES=2000', () => {
    const harness = useHarness({ env: { CACHE_MAX_BYTES: '2000' } });

    it('holds two 1000-byte pages exactly and evicts the least recently used for a third', async () => {
      const h = harness();
      h.upstream.enqueue(
        { body: pageOfBytes(1000, 'A') },
        { body: pageOfBytes(1000, 'B') },
        { body: pageOfBytes(1000, 'C') },
      );
      const a = await get(h, '?cursor=A');
      const b = await get(h, '?cursor=B');
      expect([a.headers['cache-status'], b.headers['cache-status']]).toEqual([MISS_STORED, MISS_STORED]);
      const bothFit = [await get(h, '?cursor=A'), await get(h, '?cursor=B')];
      expect(bothFit.map((res) => res.headers['x-cache'])).toEqual(['HIT', 'HIT']);

      await get(h, '?cursor=C');
      const c = await get(h, '?cursor=C');
      const bAgain = await get(h, '?cursor=B');
      expect([c.headers['x-cache'], bAgain.headers['x-cache']]).toEqual(['HIT', 'HIT']);
      expect(h.upstream.received).toHaveLength(3);

      const aAgain = await get(h, '?cursor=A');
      expect(aAgain.headers['x-cache']).toBe('MISS');
      expect(h.upstream.received).toHaveLength(4);
    });

    it('serves a page larger than CACHE_MAX_BYTES without storing it, and keeps what was stored', async () => {
      const h = harness();
      const small = pageOfBytes(500, 'small');
      const huge = pageOfBytes(2001, 'huge');
      h.upstream.enqueue({ body: small }, { body: huge }, { body: huge });
      await get(h, '?cursor=small');

      const first = await get(h, '?cursor=huge');
      const second = await get(h, '?cursor=huge');
      const smallAgain = await get(h, '?cursor=small');

      expect(h.upstream.received).toHaveLength(3);
      for (const res of [first, second]) {
        expect(res.status).toBe(200);
        expect(res.text).toBe(huge);
        expect(res.headers['x-cache']).toBe('MISS');
        expect(res.headers['cache-status']).toBe(MISS_NOT_STORED);
      }
      expect(smallAgain.headers['x-cache']).toBe('HIT');
      expect(smallAgain.text).toBe(small);
    });

    it('stores a page of exactly CACHE_MAX_BYTES', async () => {
      const h = harness();
      const page = pageOfBytes(2000, 'exact');
      h.upstream.enqueue({ body: page });

      const first = await get(h, '');
      const second = await get(h, '');

      expect(h.upstream.received).toHaveLength(1);
      expect(first.headers['cache-status']).toBe(MISS_STORED);
      expect(second.headers['x-cache']).toBe('HIT');
      expect(second.text).toBe(page);
    });
  });
});

describe('GET /v3/batches — only 200 pages are cached', () => {
  const harness = useHarness({ env: { UPSTREAM_MAX_RETRIES: '0' } });

  it.each([
    [404, 404, undefined],
    [500, 502, undefined],
    [422, 400, undefined],
    [200, 502, '{"not":"a page"}'],
  ])(
    'does not cache an upstream %i (answered %i): the next request goes upstream again',
    async (upstreamStatus, clientStatus, body) => {
      const h = harness();
      h.upstream.enqueue({ status: upstreamStatus, ...(body === undefined ? {} : { body }) });

      const failed = await get(h, '?cursor=x');
      const next = await get(h, '?cursor=x');

      expect(h.upstream.received).toHaveLength(2);
      expect(failed.status).toBe(clientStatus);
      expect(failed.headers['x-cache']).toBe('MISS');
      expect(failed.headers['cache-status']).toBe(`ntropy-bff; fwd=uri-miss; fwd-status=${upstreamStatus}`);
      expect(next.status).toBe(200);
      expect(next.headers['x-cache']).toBe('MISS');
      expect(next.headers['cache-status']).toBe(MISS_STORED);
    },
  );
});

describe('GET /v3/batches — the cache is consulted only after authentication, authorization, the user limit and validation', () => {
  const harness = useHarness({
    env: { JWT_REQUIRED_SCOPE: 'batches:read', USER_RATE_LIMIT_PER_MIN: '2' },
  });
  const token = (sub: string, scope = 'batches:read') => signToken({ claims: { sub, scope } });

  it('never answers a rejected request from the cache', async () => {
    const h = harness();
    const filled = await get(h, '', token('alice'));
    expect(filled.headers['x-cache']).toBe('MISS');

    const rejected = [
      await h.request.get('/v3/batches'),
      await h.request.get('/v3/batches').set('Authorization', 'Bearer not-a-jwt'),
      await get(
        h,
        '',
        signToken({ key: 'another-secret-of-at-least-thirty-two-bytes', claims: { scope: 'batches:read' } }),
      ),
      await get(h, '', token('bob', 'other:scope')),
      await get(h, '?limit=10&limit=10', token('carol')),
    ];

    expect(rejected.map((res) => res.status)).toEqual([401, 401, 401, 403, 400]);
    for (const res of rejected) {
      expect(res.headers['x-cache']).toBeUndefined();
      expect(res.headers['cache-status']).toBeUndefined();
      expect(res.headers['x-upstream-request-id']).toBeUndefined();
      expect(res.text).not.toBe(filled.text);
    }
    expect(h.upstream.received).toHaveLength(1);
    expect(h.logs.auditLines().filter((line) => line.cache === 'HIT')).toEqual([]);
  });

  it('counts hits against the per-user limit and refuses the request over it without the cache', async () => {
    const h = harness();
    await get(h, '', token('alice'));

    const hit = await get(h, '', token('mallory'));
    const alsoHit = await get(h, '', token('mallory'));
    const limited = await get(h, '', token('mallory'));

    expect([hit.headers['x-cache'], alsoHit.headers['x-cache']]).toEqual(['HIT', 'HIT']);
    expect(limited.status).toBe(429);
    expect(limited.headers['x-cache']).toBeUndefined();
    expect(limited.headers['cache-status']).toBeUndefined();
    expect(h.upstream.received).toHaveLength(1);
  });
});
