// SPEC "Replicas and shared state": a 429/423 seen by any replica pauses every replica; one quota probe per interval across all.
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { describeWithRedis, type RedisServer, REDIS_SETUP_TIMEOUT_MS } from './helpers/redis-server.js';
import {
  createSharedClock,
  linesSaying,
  startSharingReplicas,
  waitFor,
  type Replicas,
} from './helpers/replicas.js';

function codeOf(res: { body: string }): unknown {
  return (JSON.parse(res.body) as { code?: unknown }).code;
}

describeWithRedis('Replicas — the Retry-After pause and the quota hold through Redis', () => {
  let redis: RedisServer;
  let r: Replicas;
  let close: () => Promise<void>;
  const { now, advanceBy } = createSharedClock();
  let query = 0;
  /** A query no test asked before: nothing cached, nothing in flight. */
  const fresh = () => `/v3/batches?limit=${(query += 1)}`;

  beforeAll(async () => {
    ({ redis, r, close } = await startSharingReplicas(
      3,
      {
        CACHE_TTL_MS: '0',
        REQUEST_DEADLINE_MS: '1000',
        QUOTA_HOLD_MS: '60000',
        QUOTA_PROBE_INTERVAL_MS: '10000',
        USER_RATE_LIMIT_PER_MIN: '0',
        REDIS_TIMEOUT_MS: '1000',
      },
      { now },
    ));
  }, REDIS_SETUP_TIMEOUT_MS);
  afterAll(() => close());
  beforeEach(async () => {
    // Each test starts with every pause and hold behind it.
    await advanceBy(120_000);
    r.upstream.reset();
  });

  it('pauses every replica until the same instant after one of them receives a 429 with Retry-After', async () => {
    const [a, b, c] = r.replicas;
    r.upstream.enqueue({ status: 429, headers: { 'retry-after': '3' } });
    const limited = await a!.get(fresh(), 'u');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('3');

    await advanceBy(1000);
    for (const replica of [b, c, a]) {
      const paused = await replica!.get(fresh(), 'u');
      expect(paused.status).toBe(429);
      expect(codeOf(paused)).toBe('upstream_rate_limited');
      expect(paused.headers.get('retry-after')).toBe('2');
    }
    expect(r.upstream.received).toHaveLength(1);

    await advanceBy(2000);
    for (const replica of [b, c, a]) expect((await replica!.get(fresh(), 'u')).status).toBe(200);
    expect(r.upstream.received).toHaveLength(4);
    // Each replica says so once: when it received the 429, or first read the pause from Redis.
    for (const replica of r.replicas) {
      expect(linesSaying(replica, 'upstream calls paused')).toEqual([expect.objectContaining({ level: 40 })]);
      expect(linesSaying(replica, 'upstream pause over')).toHaveLength(1);
    }
  });

  it('keeps the later of two pauses, whichever replica learns it last', async () => {
    const [a, b, c] = r.replicas;
    // Both calls leave together; the longer pause's answer arrives first, the shorter one's after it.
    r.upstream.enqueue(
      { status: 429, headers: { 'retry-after': '5' }, delayMs: 50 },
      { status: 429, headers: { 'retry-after': '2' }, delayMs: 300 },
    );
    await Promise.all([a!.get(fresh(), 'u'), b!.get(fresh(), 'u')]);
    const paused = await c!.get(fresh(), 'u');
    expect(paused.status).toBe(429);
    expect(paused.headers.get('retry-after')).toBe('5');
    expect(r.upstream.received).toHaveLength(2);
  });

  it('holds every replica after a 423 seen by one, and lets one probe per interval go upstream across all', async () => {
    const [a, b, c] = r.replicas;
    r.upstream.enqueue({ status: 423 });
    expect(codeOf(await a!.get(fresh(), 'u'))).toBe('upstream_quota_exhausted');
    await advanceBy(4000);
    for (const replica of [b, c]) {
      const held = await replica!.get(fresh(), 'u');
      expect(held.status).toBe(503);
      expect(held.headers.get('retry-after')).toBe('6');
    }
    expect(r.upstream.received).toHaveLength(1);

    // The probe is due: six requests at once over three replicas make one call, which Ntropy refuses.
    await advanceBy(6000);
    r.upstream.enqueue({ status: 423 });
    const round = await Promise.all([a, b, c, a, b, c].map((replica) => replica!.get(fresh(), 'u')));
    expect(round.map((res) => res.status)).toEqual(Array<number>(6).fill(503));
    expect(r.upstream.received).toHaveLength(2);

    // The next probe gets a page: the hold is lifted on every replica.
    await advanceBy(10_000);
    const probe = await b!.get(fresh(), 'u');
    expect(probe.status).toBe(200);
    for (const replica of [a, c]) expect((await replica!.get(fresh(), 'u')).status).toBe(200);
    expect(r.upstream.received).toHaveLength(5);
    for (const replica of r.replicas) {
      expect(linesSaying(replica, 'quota hold started')).toHaveLength(1);
      expect(linesSaying(replica, 'quota hold lifted')).toHaveLength(1);
    }
    expect(linesSaying(b!, 'quota hold lifted')).toEqual([
      expect.objectContaining({ reason: 'probe_succeeded' }),
    ]);
    expect(linesSaying(a!, 'quota hold lifted')).toEqual([
      expect.objectContaining({ reason: 'lifted_elsewhere' }),
    ]);
  });

  it('keeps a pause it learnt from Redis when Redis goes away', async () => {
    const [a, b] = r.replicas;
    r.upstream.enqueue({ status: 429, headers: { 'retry-after': '3' } });
    expect((await a!.get(fresh(), 'u')).status).toBe(429);
    expect((await b!.get(fresh(), 'u')).status).toBe(429);
    await redis.kill();
    try {
      await waitFor(async () => (await b!.metric('ntropy_bff_redis_up')) === 0);
      const stillPaused = await b!.get(fresh(), 'u');
      expect(stillPaused.status).toBe(429);
      expect(stillPaused.headers.get('retry-after')).toBe('3');
      expect(r.upstream.received).toHaveLength(1);
    } finally {
      await redis.restart();
      await waitFor(async () => (await b!.metric('ntropy_bff_redis_up')) === 1);
    }
  });
});
