// SPEC per-user limit (rate_limited): N authenticated requests per token subject per fixed 60 s window, 0 disables.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { auditOf } from './helpers/audit-lines.js';
import { useClockedHarness } from './helpers/clocked-harness.js';
import { startHarness, type Harness } from './helpers/harness.js';
import { bearer, signToken } from './helpers/tokens.js';

const LIMIT = 3;

function asUser(h: Harness, sub: string, path = '/v3/batches', claims: Record<string, unknown> = {}) {
  return h.request.get(path).set('Authorization', bearer(signToken({ claims: { sub, ...claims } })));
}

async function spendBudget(h: Harness, sub: string): Promise<void> {
  for (let i = 0; i < LIMIT; i += 1) expect((await asUser(h, sub)).status).toBe(200);
}

describe('GET /v3/batches — per-user limit', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { USER_RATE_LIMIT_PER_MIN: String(LIMIT) } });
  });
  afterAll(() => h.close());
  beforeEach(() => h.upstream.reset());

  it('answers the request past the limit with 429 rate_limited, Retry-After and RateLimit headers', async () => {
    await spendBudget(h, 'limited-1');
    const res = await asUser(h, 'limited-1');
    expect(res.status).toBe(429);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.body).toMatchObject({
      type: 'urn:ntropy-bff:problem:rate-limited',
      status: 429,
      code: 'rate_limited',
      request_id: res.headers['x-request-id'],
    });
    const retryAfter = res.headers['retry-after'];
    expect(retryAfter).toMatch(/^[0-9]+$/);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(retryAfter)).toBeLessThanOrEqual(60);
    expect(res.headers['ratelimit-policy']).toMatch(/q=3\b/);
    expect(res.headers['ratelimit-policy']).toMatch(/w=60\b/);
    expect(res.headers.ratelimit).toMatch(/r=0\b/);
    const resetS = Number(/t=([0-9]+)/.exec(String(res.headers.ratelimit))?.[1]);
    expect(Math.abs(Number(retryAfter) - resetS)).toBeLessThanOrEqual(1);
    expect(await auditOf(h, res)).toMatchObject({ status: 429, code: 'rate_limited', reason: 'user_limit' });
  });

  it('announces the remaining budget on allowed requests', async () => {
    const first = await asUser(h, 'limited-budget');
    expect(first.status).toBe(200);
    expect(first.headers.ratelimit).toMatch(/r=2\b/);
    const second = await asUser(h, 'limited-budget');
    expect(second.headers.ratelimit).toMatch(/r=1\b/);
  });

  it('puts nothing derived from the user in any header: two users get the same RateLimit headers', async () => {
    const [a, b] = [await asUser(h, 'identity-a@example.com'), await asUser(h, 'identity-b@example.com')];
    expect(a.headers['ratelimit-policy']).toBe('"user";q=3;w=60');
    expect(b.headers['ratelimit-policy']).toBe(a.headers['ratelimit-policy']);
    const withoutReset = (value: unknown) => String(value).replace(/t=[0-9]+/, 't=…');
    expect(withoutReset(b.headers.ratelimit)).toBe(withoutReset(a.headers.ratelimit));
    for (const [name, value] of Object.entries(a.headers)) {
      expect(`${name}: ${String(value)}`).not.toMatch(/pk=|identity-a/);
    }
  });

  it('counts cache hits too, and does not call the upstream for the limited request', async () => {
    const page = '/v3/batches?limit=7&status=completed';
    const answers = [];
    for (let i = 0; i < LIMIT; i += 1) answers.push(await asUser(h, 'limited-hits', page));
    expect(answers.map((res) => res.headers['x-cache'])).toEqual(['MISS', 'HIT', 'HIT']);
    const callsBefore = h.upstream.received.length;

    const res = await asUser(h, 'limited-hits', page);
    expect(res.status).toBe(429);
    expect(res.headers['x-cache']).toBeUndefined();
    expect(h.upstream.received).toHaveLength(callsBefore);
  });

  it('writes an audit line for the 429 with code rate_limited and the sub, and no upstream call', async () => {
    await spendBudget(h, 'limited-audit');
    const res = await asUser(h, 'limited-audit');
    expect(res.status).toBe(429);
    const line = h.logs.auditLines().find((record) => record.request_id === res.headers['x-request-id']);
    expect(line).toMatchObject({
      sub: 'limited-audit',
      status: 429,
      code: 'rate_limited',
      upstream_attempts: 0,
      upstream_status: null,
    });
  });

  it('limits each subject on its own: another sub is unaffected', async () => {
    await spendBudget(h, 'limited-a');
    expect((await asUser(h, 'limited-a')).status).toBe(429);
    for (let i = 0; i < LIMIT; i += 1) expect((await asUser(h, 'limited-b')).status).toBe(200);
    expect((await asUser(h, 'limited-b')).status).toBe(429);
  });

  it('neither counts nor limits unauthenticated requests', async () => {
    for (let i = 0; i < 10; i += 1) {
      const res = await h.request.get('/v3/batches');
      expect(res.status).toBe(401);
      expect(res.headers.ratelimit).toBeUndefined();
    }
    for (let i = 0; i < 5; i += 1) {
      const forged = signToken({
        claims: { sub: 'limited-forged' },
        key: 'another-secret-of-at-least-32-bytes!',
      });
      expect((await h.request.get('/v3/batches').set('Authorization', bearer(forged))).status).toBe(401);
    }
    await spendBudget(h, 'limited-forged');
    expect((await asUser(h, 'limited-forged')).status).toBe(429);
  });

  it('checks the limit before the query: a bad query within the limit is 400, past it 429', async () => {
    const within = await asUser(h, 'limited-query', '/v3/batches?limit=0');
    expect(within.status).toBe(400);
    expect(within.body).toMatchObject({ code: 'invalid_query' });
    for (let i = 1; i < LIMIT; i += 1) expect((await asUser(h, 'limited-query')).status).toBe(200);

    const past = await asUser(h, 'limited-query', '/v3/batches?limit=0');
    expect(past.status).toBe(429);
    expect(past.body).toMatchObject({ code: 'rate_limited' });
  });
});

describe('GET /v3/batches — per-user limit after authorization', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      env: { USER_RATE_LIMIT_PER_MIN: String(LIMIT), JWT_REQUIRED_SCOPE: 'batches:read' },
    });
  });
  afterAll(() => h.close());

  it('answers a token lacking the scope with 403, not 429, even when its sub is over the limit', async () => {
    for (let i = 0; i < LIMIT; i += 1) {
      expect((await asUser(h, 'scoped', '/v3/batches', { scope: 'batches:read' })).status).toBe(200);
    }
    expect((await asUser(h, 'scoped', '/v3/batches', { scope: 'batches:read' })).status).toBe(429);
    const res = await asUser(h, 'scoped', '/v3/batches', { scope: 'other' });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ code: 'forbidden' });
  });
});

describe('GET /v3/batches — per-user limit disabled', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { USER_RATE_LIMIT_PER_MIN: '0' } });
  });
  afterAll(() => h.close());

  it('lets every request through when USER_RATE_LIMIT_PER_MIN is 0', async () => {
    const statuses = [];
    for (let i = 0; i < 20; i += 1) {
      const res = await asUser(h, 'unlimited');
      statuses.push(res.status);
      expect(res.headers.ratelimit).toBeUndefined();
    }
    expect(statuses).toEqual(Array<number>(20).fill(200));
  });
});

describe('GET /v3/batches — per-user limit, the fixed 60 s window', () => {
  const clocked = useClockedHarness({ env: { USER_RATE_LIMIT_PER_MIN: '2' } }, { frozen: true });

  it("renews a subject's budget once the window its first request started has passed, not before", async () => {
    const { h, advanceTo } = clocked();
    expect((await asUser(h, 'windowed')).status).toBe(200);
    await advanceTo(30_000);
    expect((await asUser(h, 'windowed')).status).toBe(200);
    const past = await asUser(h, 'windowed');
    expect(past.status).toBe(429);
    expect(past.headers['retry-after']).toBe('30');
    await advanceTo(59_999);
    const last = await asUser(h, 'windowed');
    expect(last.status).toBe(429);
    expect(last.headers['retry-after']).toBe('1');

    await advanceTo(60_000);
    const renewed = await asUser(h, 'windowed');
    expect(renewed.status).toBe(200);
    expect(renewed.headers.ratelimit).toBe('"user";r=1;t=60');
  });
});
