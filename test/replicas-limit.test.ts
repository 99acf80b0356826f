// SPEC "Replicas and shared state": the per-user limit counted across replicas through one Redis, and nothing secret in it.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithRedis, type RedisServer, REDIS_SETUP_TIMEOUT_MS } from './helpers/redis-server.js';
import { API_KEY, startSharingReplicas, type Replicas } from './helpers/replicas.js';
import { JWT_SECRET, signToken } from './helpers/tokens.js';

const LIMIT = 6;
const PREFIX = 'bff-test:';

describeWithRedis('Replicas — the per-user limit through Redis', () => {
  let redis: RedisServer;
  let r: Replicas;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ redis, r, close } = await startSharingReplicas(3, {
      REDIS_KEY_PREFIX: PREFIX,
      REDIS_TIMEOUT_MS: '1000',
      USER_RATE_LIMIT_PER_MIN: String(LIMIT),
    }));
  }, REDIS_SETUP_TIMEOUT_MS);
  afterAll(() => close());

  it('gives a user USER_RATE_LIMIT_PER_MIN in total across three replicas, not three times it', async () => {
    const answers = [];
    for (let i = 0; i < LIMIT; i += 1)
      answers.push(await r.replicas[i % 3]!.get('/v3/batches', 'shared-user'));
    expect(answers.map((res) => res.status)).toEqual(Array<number>(LIMIT).fill(200));
    expect(answers.map((res) => /r=([0-9]+)/.exec(res.headers.get('ratelimit') ?? '')?.[1])).toEqual([
      '5',
      '4',
      '3',
      '2',
      '1',
      '0',
    ]);
    for (const replica of r.replicas) {
      const res = await replica.get('/v3/batches', 'shared-user');
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
  });

  it('keeps each user on their own budget across replicas', async () => {
    for (let i = 0; i < LIMIT; i += 1)
      expect((await r.replicas[i % 3]!.get('/v3/batches', 'user-a')).status).toBe(200);
    expect((await r.replicas[2]!.get('/v3/batches', 'user-a')).status).toBe(429);
    expect((await r.replicas[2]!.get('/v3/batches', 'user-b')).status).toBe(200);
  });

  it('writes pages, counts and instants only: no API key, token or claim beyond the sub', async () => {
    const claims = { sub: 'claims-user', email: 'claims-user@example.com', scope: 'batches:read' };
    const token = signToken({ claims });
    const res = await fetch(`${r.replicas[0]!.url}/v3/batches?limit=3`, {
      headers: { authorization: `Bearer ${token}`, 'x-api-key': 'client-sent-key' },
    });
    expect(res.status).toBe(200);
    // A quota hold and a pause at once: both calls are in flight before either answer arrives.
    r.upstream.enqueue(
      { status: 423, delayMs: 100 },
      { status: 429, headers: { 'retry-after': '30' }, delayMs: 100 },
    );
    const refused = await Promise.all([
      r.replicas[1]!.get('/v3/batches?limit=4', 'claims-user'),
      r.replicas[2]!.get('/v3/batches?limit=5', 'claims-user'),
    ]);
    expect(refused.map((answer) => answer.status).sort()).toEqual([429, 503]);

    const entries = await redis.dump();
    const kinds = new Set<string>();
    for (const [key, value] of entries) {
      const kind = new RegExp(`^${PREFIX}(limit|pause|quota|page|outcome|lock)(:|$)`).exec(key)?.[1];
      expect(kind, key).toBeDefined();
      kinds.add(kind!);
      if (kind === 'limit') {
        expect(key).toMatch(new RegExp(`^${PREFIX}limit:(shared-user|user-a|user-b|claims-user)$`));
        expect(value).toMatch(/^"[0-9]+"$/);
      } else if (kind === 'pause') {
        expect(value).toMatch(/^"[0-9]+"$/);
      } else if (kind === 'quota') {
        expect(value).toMatch(/^"[0-9]+:[0-9]+"$/);
      } else {
        expect(key).toMatch(new RegExp(`^${PREFIX}(page|outcome|lock):limit=[0-9]+$`));
      }
      for (const secret of [API_KEY, JWT_SECRET, token, token.split('.')[2]!, claims.email, 'batches:read']) {
        expect(`${key} ${value}`).not.toContain(secret);
      }
      expect(`${key} ${value}`).not.toMatch(/bearer|client-sent-key/i);
    }
    expect([...kinds].sort()).toEqual(['limit', 'outcome', 'page', 'pause', 'quota']);
    expect(entries.get(`${PREFIX}limit:claims-user`)).toBe('"3"');
  });

  it('says once per replica that Redis is connected, and shows ntropy_bff_redis_up 1', async () => {
    for (const replica of r.replicas) {
      const lines = replica.logs.records().filter((line) => String(line.msg).startsWith('redis '));
      expect(lines).toEqual([
        expect.objectContaining({ level: 30, msg: 'redis connected: sharing state across replicas' }),
      ]);
      expect(await replica.metric('ntropy_bff_redis_up')).toBe(1);
      expect(await replica.metric('ntropy_bff_redis_errors_total')).toBe(0);
    }
  });
});
