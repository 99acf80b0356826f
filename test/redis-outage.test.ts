// SPEC "Replicas and shared state": Redis is an optimisation, never a dependency — down, slow, back, or wrongly configured.
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

const LIMIT = 1000;
/**
 * Above what a loaded 2-core machine adds to a Redis round trip: at 1 s, a command starved of CPU during
 * the load below timed out before the kill, a second outage that made the one-warning check fail.
 */
const REDIS_TIMEOUT_MS = 3000;
/** What a loaded test machine may add to one request: far below a hang. */
const MARGIN_MS = 3000;

const UNAVAILABLE = 'redis unavailable: carrying on with local state';
const BACK = 'redis is back: sharing state across replicas again';
const REFUSED = 'redis refused a command: carrying on with local state';

/** Remaining budget announced by each replica for one request each from `sub`, in order. */
async function remainingOnEach(r: Replicas, sub: string): Promise<number[]> {
  const remaining = [];
  for (const replica of r.replicas) {
    const res = await replica.get('/v3/batches', sub);
    expect(res.status).toBe(200);
    remaining.push(Number(/r=([0-9]+)/.exec(res.headers.get('ratelimit') ?? '')?.[1]));
  }
  return remaining;
}

describeWithRedis('Replicas — Redis killed, paused and restarted under load', () => {
  let redis: RedisServer;
  let r: Replicas;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ redis, r, close } = await startSharingReplicas(3, {
      REDIS_TIMEOUT_MS: String(REDIS_TIMEOUT_MS),
      USER_RATE_LIMIT_PER_MIN: String(LIMIT),
    }));
  }, REDIS_SETUP_TIMEOUT_MS);
  afterAll(() => close());

  it('answers every request from local state when Redis dies mid-load, warns once, and shares again once it is back', async () => {
    expect(await remainingOnEach(r, 'before-outage')).toEqual([LIMIT - 1, LIMIT - 2, LIMIT - 3]);
    const logStart = r.replicas.map((replica) => replica.logs.records().length);

    const answers: { status: number; durationMs: number }[] = [];
    let killed: Promise<void> | undefined;
    await Promise.all(
      [0, 1, 2, 3, 4, 5].map(async (worker) => {
        for (let i = 0; i < 15; i += 1) {
          answers.push(await r.replicas[(worker + i) % 3]!.get('/v3/batches', `load-${worker}`));
          if (answers.length === 30) killed = redis.kill();
        }
      }),
    );
    await killed;
    expect(answers.map((res) => res.status)).toEqual(Array<number>(90).fill(200));
    for (const res of answers) expect(res.durationMs).toBeLessThan(REDIS_TIMEOUT_MS + MARGIN_MS);

    // Still down: each replica counts on its own, and says so once.
    expect(await remainingOnEach(r, 'during-outage')).toEqual([LIMIT - 1, LIMIT - 1, LIMIT - 1]);
    for (const [i, replica] of r.replicas.entries()) {
      expect((await fetch(`${replica.url}/readyz`)).status).toBe(200);
      expect(await replica.metric('ntropy_bff_redis_up')).toBe(0);
      expect(await replica.metric('ntropy_bff_redis_errors_total')).toBeGreaterThan(0);
      expect(linesSaying(replica, UNAVAILABLE, logStart[i])).toEqual([
        expect.objectContaining({ level: 40, redis: `redis://127.0.0.1:${redis.port}` }),
      ]);
    }

    await redis.restart();
    await waitFor(() => everyReplicaReports(r, 'ntropy_bff_redis_up', 1));
    expect(await remainingOnEach(r, 'after-outage')).toEqual([LIMIT - 1, LIMIT - 2, LIMIT - 3]);
    for (const [i, replica] of r.replicas.entries()) {
      expect(linesSaying(replica, UNAVAILABLE, logStart[i])).toHaveLength(1);
      expect(linesSaying(replica, BACK, logStart[i])).toEqual([expect.objectContaining({ level: 30 })]);
    }
  }, 30_000);

  it('treats a Redis that stops answering as an outage: each request waits at most REDIS_TIMEOUT_MS', async () => {
    await waitFor(() => everyReplicaReports(r, 'ntropy_bff_redis_up', 1));
    const logStart = r.replicas.map((replica) => replica.logs.records().length);
    redis.pause();
    try {
      const answers = await Promise.all(
        [0, 1, 2, 3, 4, 5].map((i) => r.replicas[i % 3]!.get('/v3/batches', `paused-${i}`)),
      );
      expect(answers.map((res) => res.status)).toEqual(Array<number>(6).fill(200));
      for (const res of answers) expect(res.durationMs).toBeLessThan(REDIS_TIMEOUT_MS + MARGIN_MS);
      for (const [i, replica] of r.replicas.entries()) {
        expect(await replica.metric('ntropy_bff_redis_up')).toBe(0);
        expect(linesSaying(replica, UNAVAILABLE, logStart[i])).toEqual([
          expect.objectContaining({ level: 40, cause: 'timeout' }),
        ]);
      }
    } finally {
      redis.resume();
    }
    // The next request that Redis answers brings sharing back, without a restart of anything.
    await waitFor(async () => {
      await Promise.all(r.replicas.map((replica) => replica.get('/v3/batches', 'probe')));
      return everyReplicaReports(r, 'ntropy_bff_redis_up', 1);
    });
    for (const [i, replica] of r.replicas.entries()) {
      expect(linesSaying(replica, UNAVAILABLE, logStart[i])).toHaveLength(1);
      expect(linesSaying(replica, BACK, logStart[i])).toHaveLength(1);
    }
    expect(await remainingOnEach(r, 'after-pause')).toEqual([LIMIT - 1, LIMIT - 2, LIMIT - 3]);
  }, 30_000);
});

describeWithRedis('Replicas — Redis down from the start', () => {
  let redis: RedisServer;
  let r: Replicas;
  beforeAll(async () => {
    redis = await startRedisServer();
    await redis.kill();
    r = await startReplicas(2, {
      env: { REDIS_URL: redis.url, REDIS_TIMEOUT_MS: '1000', USER_RATE_LIMIT_PER_MIN: '2' },
    });
  }, REDIS_SETUP_TIMEOUT_MS);
  afterAll(async () => {
    await r.close();
    await redis.stop();
  });

  it('starts and serves with its local limit, warns once, and joins Redis when it appears', async () => {
    const [first] = r.replicas;
    await waitFor(async () => (await first!.metric('ntropy_bff_redis_errors_total'))! >= 3);
    expect((await first!.get('/v3/batches', 'early')).status).toBe(200);
    expect((await first!.get('/v3/batches', 'early')).status).toBe(200);
    expect((await first!.get('/v3/batches', 'early')).status).toBe(429);
    expect((await fetch(`${first!.url}/readyz`)).status).toBe(200);
    expect(await first!.metric('ntropy_bff_redis_up')).toBe(0);
    expect(linesSaying(first!, UNAVAILABLE)).toEqual([expect.objectContaining({ cause: 'ECONNREFUSED' })]);

    await redis.restart();
    await waitFor(() => everyReplicaReports(r, 'ntropy_bff_redis_up', 1));
    expect(linesSaying(first!, BACK)).toHaveLength(1);
    expect((await r.replicas[0]!.get('/v3/batches', 'late')).status).toBe(200);
    expect((await r.replicas[1]!.get('/v3/batches', 'late')).status).toBe(200);
    expect((await r.replicas[1]!.get('/v3/batches', 'late')).status).toBe(429);
  }, 30_000);
});

describeWithRedis('Replicas — the Redis password', () => {
  const PASSWORD = 'redis-pass-5f2c9e71';
  let redis: RedisServer;
  let r: Replicas;
  beforeAll(async () => {
    redis = await startRedisServer({ password: PASSWORD });
    r = await startReplicas(1, { env: { REDIS_URL: redis.url } });
    await waitFor(() => everyReplicaReports(r, 'ntropy_bff_redis_up', 1));
  }, REDIS_SETUP_TIMEOUT_MS);
  afterAll(async () => {
    await r.close();
    await redis.stop();
  });

  it('is never logged, neither when connected nor in an outage', async () => {
    const [replica] = r.replicas;
    expect((await replica!.get('/v3/batches', 'pw-user')).status).toBe(200);
    await redis.kill();
    expect((await replica!.get('/v3/batches', 'pw-user')).status).toBe(200);
    await waitFor(async () => (await replica!.metric('ntropy_bff_redis_up')) === 0);
    expect(linesSaying(replica!, UNAVAILABLE)).toEqual([
      expect.objectContaining({ redis: `redis://127.0.0.1:${redis.port}` }),
    ]);
    expect(replica!.logs.text()).not.toContain(PASSWORD);
  }, 30_000);

  it('is refused when wrong: a warning naming WRONGPASS, no password, requests served locally', async () => {
    await redis.restart();
    const wrong = await startReplicas(1, {
      env: { REDIS_URL: `redis://:not-the-${PASSWORD}@127.0.0.1:${redis.port}` },
    });
    try {
      const [replica] = wrong.replicas;
      await waitFor(() => Promise.resolve(linesSaying(replica!, UNAVAILABLE).length > 0));
      expect(linesSaying(replica!, UNAVAILABLE)).toEqual([expect.objectContaining({ cause: 'WRONGPASS' })]);
      expect((await replica!.get('/v3/batches', 'pw-user')).status).toBe(200);
      expect(await replica!.metric('ntropy_bff_redis_up')).toBe(0);
      expect(replica!.logs.text()).not.toContain(PASSWORD);
    } finally {
      await wrong.close();
    }
  }, 30_000);
});

describeWithRedis('Replicas — a Redis that refuses writes', () => {
  let redis: RedisServer;
  let r: Replicas;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ redis, r, close } = await startSharingReplicas(1, { USER_RATE_LIMIT_PER_MIN: String(LIMIT) }));
  }, REDIS_SETUP_TIMEOUT_MS);
  afterAll(() => close());

  it('answers from local state and warns once, not per request, while Redis is out of memory; the gauge stays up', async () => {
    const [replica] = r.replicas;
    const logStart = replica!.logs.records().length;
    const errorsBefore = (await replica!.metric('ntropy_bff_redis_errors_total')) ?? 0;
    // Every write refused with OOM while reads still answer: up and down would alternate per command.
    await redis.command(['CONFIG', 'SET', 'maxmemory-policy', 'noeviction']);
    await redis.command(['CONFIG', 'SET', 'maxmemory', '1']);
    try {
      for (let i = 0; i < 20; i += 1) {
        const res = await replica!.get(`/v3/batches?limit=${i + 1}`, 'refused');
        expect(res.status).toBe(200);
      }
      expect(await replica!.metric('ntropy_bff_redis_errors_total')).toBeGreaterThanOrEqual(
        errorsBefore + 20,
      );
      expect(linesSaying(replica!, REFUSED, logStart)).toEqual([
        expect.objectContaining({ level: 40, cause: 'OOM' }),
      ]);
      expect(linesSaying(replica!, UNAVAILABLE, logStart)).toEqual([]);
      expect(linesSaying(replica!, BACK, logStart)).toEqual([]);
      expect(await replica!.metric('ntropy_bff_redis_up')).toBe(1);
    } finally {
      await redis.command(['CONFIG', 'SET', 'maxmemory', '0']);
    }
    // Writes accepted again: a page fetched now is shared through Redis.
    expect((await replica!.get('/v3/batches?limit=50', 'refused')).status).toBe(200);
    expect([...(await redis.dump()).keys()].some((key) => key.endsWith('page:limit=50'))).toBe(true);
  }, 30_000);
});
