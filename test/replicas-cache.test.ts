// SPEC "Replicas and shared state", page cache: a page fetched by one replica is a hit on every other, fresh and stale alike.
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { describeWithRedis, REDIS_SETUP_TIMEOUT_MS, type RedisServer } from './helpers/redis-server.js';
import { createSharedClock, startSharingReplicas, type Replicas } from './helpers/replicas.js';

const TTL_MS = 5000;
const STALE_MS = 60_000;

describeWithRedis('Replicas — pages shared through Redis', () => {
  let r: Replicas;
  let redis: RedisServer;
  let close: () => Promise<void>;
  const { now, advanceBy } = createSharedClock();
  const upstreamCallsFor = (query: string) =>
    r.upstream.received.filter((request) => request.url === `/v3/batches?${query}`).length;

  beforeAll(async () => {
    ({ r, redis, close } = await startSharingReplicas(
      3,
      {
        CACHE_TTL_MS: String(TTL_MS),
        CACHE_STALE_IF_ERROR_MS: String(STALE_MS),
        CACHE_MAX_BYTES: '100000',
        UPSTREAM_MAX_RETRIES: '0',
        USER_RATE_LIMIT_PER_MIN: '0',
        REDIS_TIMEOUT_MS: '1000',
      },
      { now },
    ));
  }, REDIS_SETUP_TIMEOUT_MS);
  afterAll(() => close());
  beforeEach(() => r.upstream.reset());

  /** GET commands Redis has run so far (those run by scripts included). */
  async function redisGets(): Promise<number> {
    const stats = String(await redis.command(['INFO', 'commandstats']));
    return Number(/cmdstat_get:calls=([0-9]+)/.exec(stats)?.[1] ?? 0);
  }

  it('serves a page fetched through one replica as a HIT on the others: one upstream call, same X-Upstream-Request-ID, Age and ttl', async () => {
    const [a, b, c] = r.replicas;
    const first = await a!.get('/v3/batches?limit=5', 'u');
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-status')).toBe('ntropy-bff; fwd=uri-miss; fwd-status=200; stored');
    const upstreamId = first.headers.get('x-upstream-request-id');
    expect(upstreamId).toMatch(/^[0-9a-f-]{36}$/);

    await advanceBy(2000);
    const answers = [await b!.get('/v3/batches?limit=5', 'u'), await c!.get('/v3/batches?limit=5', 'u')];
    answers.push(await a!.get('/v3/batches?limit=5', 'u'));
    for (const res of answers) {
      expect(res.status).toBe(200);
      expect(res.headers.get('x-cache')).toBe('HIT');
      expect(res.headers.get('cache-status')).toBe('ntropy-bff; hit; ttl=3');
      expect(res.headers.get('age')).toBe('2');
      expect(res.headers.get('x-upstream-request-id')).toBe(upstreamId);
      expect(res.body).toBe(first.body);
    }
    expect(upstreamCallsFor('limit=5')).toBe(1);
  });

  it("keeps a replica's own copy of a shared page fresh only until the shared entry goes stale", async () => {
    const [a, b, c] = r.replicas;
    expect((await a!.get('/v3/batches?limit=6', 'u')).status).toBe(200);
    await advanceBy(3000);
    // b copies the page into its own cache 3 s into its 5 s of freshness...
    expect((await b!.get('/v3/batches?limit=6', 'u')).headers.get('cache-status')).toBe(
      'ntropy-bff; hit; ttl=2',
    );
    await advanceBy(2500);
    // ...so 5.5 s after the fetch its copy is stale too: b goes upstream rather than answer a HIT.
    const again = await b!.get('/v3/batches?limit=6', 'u');
    expect(again.headers.get('x-cache')).toBe('MISS');
    expect(upstreamCallsFor('limit=6')).toBe(2);
    // And the page b fetched is the one the others now serve.
    const fromC = await c!.get('/v3/batches?limit=6', 'u');
    expect(fromC.headers.get('x-cache')).toBe('HIT');
    expect(fromC.headers.get('x-upstream-request-id')).toBe(again.headers.get('x-upstream-request-id'));
    expect(upstreamCallsFor('limit=6')).toBe(2);
  });

  it('shares stale pages: a replica that never saw the page answers an upstream error with it', async () => {
    const [a, , c] = r.replicas;
    const first = await a!.get('/v3/batches?limit=7', 'u');
    await advanceBy(TTL_MS + 10_000);
    r.upstream.setDefault({ status: 503 });
    const stale = await c!.get('/v3/batches?limit=7', 'u');
    expect(stale.status).toBe(200);
    expect(stale.headers.get('x-cache')).toBe('STALE');
    expect(stale.headers.get('cache-status')).toBe('ntropy-bff; fwd=stale; fwd-status=503; ttl=-10');
    expect(stale.headers.get('age')).toBe('15');
    expect(stale.headers.get('x-upstream-request-id')).toBe(first.headers.get('x-upstream-request-id'));
    expect(stale.body).toBe(first.body);
    expect(upstreamCallsFor('limit=7')).toBe(2);
  });

  it('keeps no shared page past its stale window', async () => {
    const [a, b] = r.replicas;
    expect((await a!.get('/v3/batches?limit=8', 'u')).status).toBe(200);
    await advanceBy(TTL_MS + STALE_MS + 1000);
    r.upstream.setDefault({ status: 503 });
    const gone = await b!.get('/v3/batches?limit=8', 'u');
    expect(gone.status).toBe(502);
    expect(gone.headers.get('x-cache')).toBe('MISS');
  });

  it('shares no page that CACHE_MAX_BYTES keeps out of the cache', async () => {
    const [a, b] = r.replicas;
    r.upstream.enqueue({ bodyBytes: 150_000 }, { bodyBytes: 150_000 });
    const big = await a!.get('/v3/batches?limit=9', 'u');
    expect(big.headers.get('cache-status')).toBe('ntropy-bff; fwd=uri-miss; fwd-status=200');
    expect((await b!.get('/v3/batches?limit=9', 'u')).headers.get('x-cache')).toBe('MISS');
    expect(upstreamCallsFor('limit=9')).toBe(2);
  });
  it('reads a shared stale page once for all the waiters of a failed call, not once each', async () => {
    const [a, , c] = r.replicas;
    for (const limit of [11, 12]) expect((await a!.get(`/v3/batches?limit=${limit}`, 'u')).status).toBe(200);
    await advanceBy(TTL_MS + 10_000);
    // Slow enough that all ten below join the one call before it fails, on a loaded machine too.
    r.upstream.setDefault({ status: 503, delayMs: 600 });
    const readsBy = async (requests: number, query: string) => {
      const before = await redisGets();
      const answers = await Promise.all(
        Array.from({ length: requests }, () => c!.get(`/v3/batches?${query}`, 'u')),
      );
      expect(answers.map((res) => res.headers.get('x-cache'))).toEqual(Array<string>(requests).fill('STALE'));
      return (await redisGets()) - before;
    };

    const forOne = await readsBy(1, 'limit=12');
    const forTen = await readsBy(10, 'limit=11');
    // The same reads as for one request (give or take the lock's renewal, should the call last a second);
    // a read per waiter would be nine more.
    expect(forTen).toBeLessThanOrEqual(forOne + 1);
    expect(upstreamCallsFor('limit=11')).toBe(2);
  });
});
