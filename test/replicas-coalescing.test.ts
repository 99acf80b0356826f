// SPEC "Replicas and shared state", coalescing: identical requests on several replicas share one upstream call, each within its deadline.
import { createClient } from 'redis';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { describeWithRedis, type RedisServer, REDIS_SETUP_TIMEOUT_MS } from './helpers/redis-server.js';
import { startSharingReplicas, type Replica, type Replicas } from './helpers/replicas.js';

const PREFIX = 'ntropy-bff:';
/** The replica with a short REQUEST_DEADLINE_MS, for the waiter released before its owner's wait ends. */
const SHORT = 3;

function problemOf(res: { body: string }): Record<string, unknown> {
  return JSON.parse(res.body) as Record<string, unknown>;
}

/** `count` identical requests at once, spread over the first three replicas in turn. */
function spread(replicas: Replica[], path: string, count: number) {
  return Promise.all(Array.from({ length: count }, (_, i) => replicas[i % 3]!.get(path, `user-${i}`)));
}

function useSharingReplicas(env: Record<string, string>) {
  const state = {} as { redis: RedisServer; r: Replicas; close: () => Promise<void> };
  beforeAll(async () => {
    Object.assign(
      state,
      await startSharingReplicas(
        4,
        { USER_RATE_LIMIT_PER_MIN: '0', REDIS_TIMEOUT_MS: '1000', ...env },
        {
          envOf: (index): Record<string, string> => (index === SHORT ? { REQUEST_DEADLINE_MS: '1500' } : {}),
        },
      ),
    );
  }, REDIS_SETUP_TIMEOUT_MS);
  afterAll(() => state.close());
  beforeEach(() => state.r.upstream.reset());
  return state;
}

describeWithRedis('Replicas — one upstream call for identical requests across replicas', () => {
  const s = useSharingReplicas({ UPSTREAM_MAX_RETRIES: '2' });

  it('makes one upstream call for 30 identical concurrent requests spread over three replicas', async () => {
    s.r.upstream.enqueue({ delayMs: 300 });
    const answers = await spread(s.r.replicas, '/v3/batches?limit=11', 30);
    expect(answers.map((res) => res.status)).toEqual(Array<number>(30).fill(200));
    expect(s.r.upstream.received).toHaveLength(1);
    const upstreamIds = new Set(answers.map((res) => res.headers.get('x-upstream-request-id')));
    expect(upstreamIds.size).toBe(1);
    const statuses = answers.map((res) => res.headers.get('cache-status'));
    // The one request that made the call; the others joined it (here or on another replica) or came after.
    expect(statuses.filter((status) => !/; collapsed$|; hit;/.test(status ?? ''))).toEqual([
      'ntropy-bff; fwd=uri-miss; fwd-status=200; stored',
    ]);
    expect(new Set(answers.map((res) => res.body)).size).toBe(1);
  });

  it("shares the owner's failure with the waiters on other replicas rather than retrying it once per replica", async () => {
    s.r.upstream.setDefault({ status: 503, delayMs: 150 });
    const answers = await spread(s.r.replicas, '/v3/batches?limit=12', 9);
    expect(answers.map((res) => res.status)).toEqual(Array<number>(9).fill(502));
    // One call: its first attempt and UPSTREAM_MAX_RETRIES=2 retries.
    expect(s.r.upstream.received).toHaveLength(3);
    for (const res of answers) {
      expect(problemOf(res)).toMatchObject({ code: 'upstream_error', upstream_status: 503 });
      expect(res.headers.get('x-upstream-request-id')).toBe(answers[0]!.headers.get('x-upstream-request-id'));
    }
  });

  it('calls upstream itself when the lock it waits on expires without an outcome (its owner vanished)', async () => {
    const client = createClient({ url: s.redis.url });
    await client.connect();
    try {
      // What a replica that died mid-call leaves behind: a lock nobody renews.
      await client.set(`${PREFIX}lock:limit=13`, 'a-vanished-replica', { PX: 800 });
    } finally {
      client.destroy();
    }
    const res = await s.r.replicas[1]!.get('/v3/batches?limit=13', 'u');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-status')).toBe('ntropy-bff; fwd=uri-miss; fwd-status=200; stored');
    expect(res.durationMs).toBeGreaterThanOrEqual(700);
    expect(s.r.upstream.received).toHaveLength(1);
  });

  it("calls upstream itself when the owner's call is cancelled because its own clients left", async () => {
    const [a, b] = s.r.replicas;
    s.r.upstream.enqueue({ delayMs: 5000 });
    const leaving = new AbortController();
    const owner = a!.get('/v3/batches?limit=14', 'u', leaving.signal).catch((error: unknown) => error);
    await waitUntil(() => s.r.upstream.received.length === 1);
    const waiter = b!.get('/v3/batches?limit=14', 'u');
    await new Promise((resolve) => setTimeout(resolve, 200));
    leaving.abort();
    const res = await waiter;
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-status')).toBe('ntropy-bff; fwd=uri-miss; fwd-status=200; stored');
    expect(res.durationMs).toBeLessThan(4000);
    expect(s.r.upstream.received).toHaveLength(2);
    expect(await owner).toBeInstanceOf(Error);
  });

  it("answers at once a waiter on another replica whose deadline comes before the owner's wait ends", async () => {
    const [a] = s.r.replicas;
    const short = s.r.replicas[SHORT]!;
    // A 503's Retry-After is that call's own wait: the owner (deadline 15 s) waits it, the waiter (1.5 s) cannot.
    s.r.upstream.enqueue({ status: 503, headers: { 'retry-after': '2' }, delayMs: 200 });
    const owner = a!.get('/v3/batches?limit=15', 'u');
    await waitUntil(() => s.r.upstream.received.length === 1);
    const waiter = await short.get('/v3/batches?limit=15', 'u');
    expect(waiter.status).toBe(502);
    expect(problemOf(waiter)).toMatchObject({ code: 'upstream_error', upstream_status: 503 });
    expect((await owner).status).toBe(200);
    expect(s.r.upstream.received).toHaveLength(2);
  });
});

describeWithRedis('Replicas — one upstream call across replicas with the cache off', () => {
  const s = useSharingReplicas({ CACHE_TTL_MS: '0' });

  it('hands the page to the waiters on other replicas though nothing is cached', async () => {
    s.r.upstream.enqueue({ delayMs: 300 });
    const answers = await spread(s.r.replicas, '/v3/batches?limit=21', 12);
    expect(answers.map((res) => res.status)).toEqual(Array<number>(12).fill(200));
    expect(s.r.upstream.received).toHaveLength(1);
    const statuses = answers.map((res) => res.headers.get('cache-status'));
    expect(statuses.filter((status) => status === 'ntropy-bff; fwd=uri-miss; fwd-status=200')).toHaveLength(
      1,
    );
    expect(
      statuses.filter((status) => status === 'ntropy-bff; fwd=uri-miss; fwd-status=200; collapsed'),
    ).toHaveLength(11);

    // Nothing was kept: the next request calls again.
    expect((await s.r.replicas[1]!.get('/v3/batches?limit=21', 'u')).headers.get('x-cache')).toBe('MISS');
    expect(s.r.upstream.received).toHaveLength(2);
  });
});

async function waitUntil(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
