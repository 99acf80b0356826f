// SPEC "Replicas and shared state": with pages, locks, pauses and holds in Redis, a dead or silent Redis still costs no request more than one bound.
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  describeWithRedis,
  startRedisServer,
  type RedisServer,
  REDIS_SETUP_TIMEOUT_MS,
} from './helpers/redis-server.js';
import {
  everyReplicaReports,
  linesSaying,
  startReplicas,
  startSharingReplicas,
  waitFor,
  type Replicas,
} from './helpers/replicas.js';
import { startTcpRelay, type TcpRelay } from './helpers/tcp-relay.js';

const REDIS_TIMEOUT_MS = 1000;
const UPSTREAM_DELAY_MS = 20;
/** What a loaded test machine may add to one request: far below a hang, and less than one more Redis wait. */
const MARGIN_MS = 900;
const BOUND_MS = REDIS_TIMEOUT_MS + UPSTREAM_DELAY_MS + MARGIN_MS;

const UNAVAILABLE = 'redis unavailable: carrying on with local state';

describeWithRedis('Replicas — Redis killed or silent while pages, locks, pauses and holds are shared', () => {
  let redis: RedisServer;
  let r: Replicas;
  let close: () => Promise<void>;
  let query = 0;
  /** A query nobody asked yet: a cache miss, so every shared part asks Redis (limit, page, lock, pause, hold, store). */
  const miss = () =>
    `/v3/batches?limit=${(query % 50) + 1}&status=${['processing', 'completed', 'error'][Math.floor(query++ / 50) % 3]}`;

  beforeAll(async () => {
    ({ redis, r, close } = await startSharingReplicas(3, {
      REDIS_TIMEOUT_MS: String(REDIS_TIMEOUT_MS),
      USER_RATE_LIMIT_PER_MIN: '100000',
    }));
    r.upstream.setDefault({ delayMs: UPSTREAM_DELAY_MS });
  }, REDIS_SETUP_TIMEOUT_MS);
  afterAll(() => close());

  /** A page fetched through one replica is then a hit on another, with one upstream call. */
  async function expectSharing(): Promise<void> {
    const path = miss();
    const before = r.upstream.received.length;
    expect((await r.replicas[0]!.get(path, 'u')).headers.get('x-cache')).toBe('MISS');
    expect((await r.replicas[1]!.get(path, 'u')).headers.get('x-cache')).toBe('HIT');
    expect(r.upstream.received.length - before).toBe(1);
  }

  it('answers every request, misses and hits, when Redis dies mid-load; warns once; shares pages again once it is back', async () => {
    await expectSharing();
    const logStart = r.replicas.map((replica) => replica.logs.records().length);
    const answers: { status: number; durationMs: number }[] = [];
    let killed: Promise<void> | undefined;
    await Promise.all(
      [0, 1, 2, 3, 4, 5].map(async (worker) => {
        for (let i = 0; i < 12; i += 1) {
          // Every other request repeats a query: hits, and misses that other replicas may be fetching.
          const path = i % 2 === 0 ? miss() : `/v3/batches?limit=${i}`;
          answers.push(await r.replicas[(worker + i) % 3]!.get(path, `load-${worker}`));
          if (answers.length === 24) killed = redis.kill();
        }
      }),
    );
    await killed;
    expect(answers.map((res) => res.status)).toEqual(Array<number>(72).fill(200));
    expect(Math.max(...answers.map((res) => res.durationMs))).toBeLessThan(BOUND_MS);
    for (const [i, replica] of r.replicas.entries()) {
      expect((await fetch(`${replica.url}/readyz`)).status).toBe(200);
      expect(await replica.metric('ntropy_bff_redis_up')).toBe(0);
      expect(linesSaying(replica, UNAVAILABLE, logStart[i])).toHaveLength(1);
    }

    await redis.restart();
    await waitFor(() => everyReplicaReports(r, 'ntropy_bff_redis_up', 1));
    await expectSharing();
  }, 30_000);

  it('costs a cache miss at most about one REDIS_TIMEOUT_MS when Redis stops answering, though a miss asks it several times', async () => {
    await waitFor(() => everyReplicaReports(r, 'ntropy_bff_redis_up', 1));
    const logStart = r.replicas.map((replica) => replica.logs.records().length);
    redis.pause();
    try {
      const answers = await Promise.all(
        [0, 1, 2, 3, 4, 5].map((i) => r.replicas[i % 3]!.get(miss(), `silent-${i}`)),
      );
      const later = await Promise.all(r.replicas.map((replica) => replica.get(miss(), 'silent-later')));
      expect([...answers, ...later].map((res) => res.status)).toEqual(Array<number>(9).fill(200));
      expect(Math.max(...answers.map((res) => res.durationMs))).toBeLessThan(BOUND_MS);
      // Once one call has timed out, the others skip Redis until it answers a check again.
      expect(Math.max(...later.map((res) => res.durationMs))).toBeLessThan(UPSTREAM_DELAY_MS + MARGIN_MS);
      for (const [i, replica] of r.replicas.entries()) {
        expect(linesSaying(replica, UNAVAILABLE, logStart[i])).toEqual([
          expect.objectContaining({ cause: 'timeout' }),
        ]);
      }
    } finally {
      redis.resume();
    }
    // Nothing else needs to happen: the checks find Redis answering again.
    await waitFor(() => everyReplicaReports(r, 'ntropy_bff_redis_up', 1));
    await expectSharing();
  }, 30_000);
});

describeWithRedis('Replicas — an owner whose own Redis calls time out', () => {
  let redis: RedisServer;
  let relay: TcpRelay;
  let r: Replicas;
  beforeAll(async () => {
    redis = await startRedisServer();
    relay = await startTcpRelay(redis.port);
    // Replica 0 reaches Redis through a relay the test can stall; replica 1 directly.
    r = await startReplicas(2, {
      env: { REDIS_TIMEOUT_MS: '1000', USER_RATE_LIMIT_PER_MIN: '0' },
      envOf: (index): Record<string, string> => ({
        REDIS_URL: index === 0 ? `redis://127.0.0.1:${relay.port}` : redis.url,
      }),
    });
    await waitFor(() => everyReplicaReports(r, 'ntropy_bff_redis_up', 1));
  }, REDIS_SETUP_TIMEOUT_MS);
  afterAll(async () => {
    relay.resume();
    await r.close();
    await relay.close();
    await redis.stop();
  });

  it("still hands its page to the waiters on other replicas, rather than leaving them the lock's lease", async () => {
    const [owner, waiter] = r.replicas;
    r.upstream.enqueue({ delayMs: 800 });
    const owned = owner!.get('/v3/batches?limit=41', 'u');
    await waitFor(() => Promise.resolve(r.upstream.received.length === 1));
    const waited = waiter!.get('/v3/batches?limit=41', 'u');
    await new Promise((resolve) => setTimeout(resolve, 100));
    // The owner's next Redis call (storing the page) times out: it skips Redis from then on.
    relay.stall();
    const ownerAnswer = await owned;
    expect(ownerAnswer.status).toBe(200);
    expect(await owner!.metric('ntropy_bff_redis_up')).toBe(0);
    relay.resume();
    const waiterAnswer = await waited;
    expect(waiterAnswer.status).toBe(200);
    expect(waiterAnswer.headers.get('cache-status')).toBe(
      'ntropy-bff; fwd=uri-miss; fwd-status=200; stored; collapsed',
    );
    expect(r.upstream.received).toHaveLength(1);
  }, 30_000);
  it('releases a lock its claim took though the claim timed out, rather than leaving it to the lease', async () => {
    const [owner, waiter] = r.replicas;
    await waitFor(() => everyReplicaReports(r, 'ntropy_bff_redis_up', 1));
    // A flight first, so that the owner's scripts are loaded and its claim is one command.
    expect((await owner!.get('/v3/batches?limit=43', 'u')).status).toBe(200);
    r.upstream.reset();
    // Long enough that the waiter below claims while the owner's call runs, on a loaded machine too (the
    // owner renews its lease meanwhile: Redis runs its commands, only their replies are held).
    r.upstream.enqueue({ delayMs: 3000 });
    // Redis takes the owner's claim, but its answer comes too late: the owner calls upstream on its own...
    relay.stall('replies');
    const owned = owner!.get('/v3/batches?limit=42', 'u');
    await waitFor(() => Promise.resolve(r.upstream.received.length === 1));
    // ...while the lock its claim took makes the other replica wait on it.
    expect((await redis.dump()).has('ntropy-bff:lock:limit=42')).toBe(true);
    const waited = waiter!.get('/v3/batches?limit=42', 'u');
    relay.resume();
    expect((await owned).status).toBe(200);
    const waiterAnswer = await waited;
    expect(waiterAnswer.status).toBe(200);
    expect(waiterAnswer.headers.get('cache-status')).toMatch(/; collapsed$/);
    expect(r.upstream.received).toHaveLength(1);
  }, 30_000);
});
