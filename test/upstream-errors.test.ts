// SPEC "Normalized errors" for upstream outcomes: each Ntropy answer or failure becomes its problem+json row.
import type { Response } from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ScriptedResponse } from '../src/demo/simulated-ntropy.js';
import { auditOf } from './helpers/audit-lines.js';
import { API_KEY, startHarness, type Harness } from './helpers/harness.js';
import { closedPortUrl, expectProblem, getBatches, type ProblemBody } from './helpers/problem.js';

/** SPEC: upstream-caused errors are misses, with the upstream status in Cache-Status when there was one. */
function expectUpstreamMiss(res: Response, upstreamStatus: number | undefined): void {
  expect(res.headers['x-cache']).toBe('MISS');
  expect(res.headers['cache-status']).toBe(
    upstreamStatus === undefined
      ? 'ntropy-bff; fwd=uri-miss'
      : `ntropy-bff; fwd=uri-miss; fwd-status=${upstreamStatus}`,
  );
}

function expectNoUpstreamResponse(body: ProblemBody): void {
  expect(body).not.toHaveProperty('upstream_status');
  expect(body).not.toHaveProperty('upstream_request_id');
}

function expectKeyNowhere(res: Response, harness: Harness): void {
  expect(res.text).not.toContain(API_KEY);
  expect(JSON.stringify(res.headers)).not.toContain(API_KEY);
  expect(harness.logs.text()).not.toContain(API_KEY);
}

/** A valid page (data array, null cursor) padded to exactly `bytes`, so only its size can be wrong. */
function paddedPage(bytes: number): string {
  const shell = '{"next_cursor":null,"data":[],"pad":""}';
  return shell.replace('"pad":""', `"pad":"${'x'.repeat(bytes - shell.length)}"`);
}

const UPSTREAM_ONLY_DETAIL = 'upstream-only detail, not for clients';

let h: Harness;
beforeAll(async () => {
  // Retries stay on (the default 3) so that "not retried" is observable; random 0 makes backoff 0.
  h = await startHarness({ env: { CACHE_TTL_MS: '0' }, random: () => 0 });
});
afterAll(() => h.close());
beforeEach(() => h.upstream.reset());

describe('GET /v3/batches — upstream 400 and 422', () => {
  it('answers 400 invalid_query and keeps upstream 400 detail', async () => {
    h.upstream.enqueue({
      status: 400,
      headers: { 'x-request-id': 'ntropy-400' },
      body: { detail: 'cursor is not valid' },
    });
    const res = await getBatches(h);
    const body = expectProblem(res, 400, 'invalid_query');
    expect(body.detail).toBe('cursor is not valid');
    expect(body.upstream_status).toBe(400);
    expect(body.upstream_request_id).toBe('ntropy-400');
    expectUpstreamMiss(res, 400);
    expect(h.upstream.received).toHaveLength(1);
    expectKeyNowhere(res, h);
  });

  it('turns a FastAPI-style 422 detail list into readable text and fills errors', async () => {
    const message = 'ensure this value is less than or equal to 50';
    h.upstream.enqueue({
      status: 422,
      headers: { 'x-request-id': 'ntropy-422' },
      body: { detail: [{ loc: ['query', 'limit'], msg: message, type: 'value_error.number.not_le' }] },
    });
    const res = await getBatches(h);
    const body = expectProblem(res, 400, 'invalid_query');
    expect(body.detail).toContain('limit');
    expect(body.detail).toContain(message);
    expect(body.detail).not.toContain('[{');
    expect(body.errors).toEqual([{ field: 'limit', message }]);
    expect(body.upstream_status).toBe(422);
    expect(body.upstream_request_id).toBe('ntropy-422');
    expectUpstreamMiss(res, 422);
    expect(h.upstream.received).toHaveLength(1);
  });

  it('passes a structured (non-list) detail on as a string', async () => {
    h.upstream.enqueue({ status: 400, body: { detail: { reason: 'created_after is in the future' } } });
    const res = await getBatches(h);
    const body = expectProblem(res, 400, 'invalid_query');
    expect(body.detail).toContain('created_after is in the future');
  });

  it('answers 400 invalid_query with a readable detail when upstream sent none', async () => {
    h.upstream.enqueue({ status: 422, body: 'not json' });
    const res = await getBatches(h);
    const body = expectProblem(res, 400, 'invalid_query');
    expect(body.detail).not.toBe('');
  });
});

describe('GET /v3/batches — upstream errors that are not retried', () => {
  it.each([
    [401, 502, 'upstream_auth_failed'],
    [403, 502, 'upstream_auth_failed'],
    [404, 404, 'not_found'],
    [500, 502, 'upstream_error'],
  ])(
    'upstream %i → %i %s after exactly one call, without upstream detail',
    async (upstream, status, code) => {
      h.upstream.enqueue({
        status: upstream,
        headers: { 'x-request-id': `ntropy-${upstream}` },
        body: { detail: UPSTREAM_ONLY_DETAIL },
      });
      const res = await getBatches(h);
      const body = expectProblem(res, status, code);
      expect(res.text).not.toContain(UPSTREAM_ONLY_DETAIL);
      expect(body.upstream_status).toBe(upstream);
      expect(body.upstream_request_id).toBe(`ntropy-${upstream}`);
      expectUpstreamMiss(res, upstream);
      expect(h.upstream.received).toHaveLength(1);
      expectKeyNowhere(res, h);
    },
  );

  it.each([301, 302, 303, 307, 308])(
    'upstream %i is not followed: 502 upstream_error after exactly one call',
    async (upstream) => {
      h.upstream.enqueue({
        status: upstream,
        headers: { location: `${h.upstream.url}/v3/batches?limit=10`, 'x-request-id': 'ntropy-redirect' },
        body: '',
      });
      const res = await getBatches(h);
      const body = expectProblem(res, 502, 'upstream_error');
      expect(body.upstream_status).toBe(upstream);
      expect(body.upstream_request_id).toBe('ntropy-redirect');
      expect(res.headers.location).toBeUndefined();
      expectUpstreamMiss(res, upstream);
      expect(h.upstream.received).toHaveLength(1);
    },
  );

  it('records the error code and the upstream response in the audit line', async () => {
    h.upstream.enqueue({ status: 403, headers: { 'x-request-id': 'ntropy-403-audit' } });
    const res = await getBatches(h);
    const audit = await auditOf(h, res);
    expect(audit).toMatchObject({
      status: 502,
      code: 'upstream_auth_failed',
      cache: 'MISS',
      upstream_status: 403,
      upstream_attempts: 1,
      upstream_request_id: 'ntropy-403-audit',
    });
  });
});

describe('GET /v3/batches — upstream quota spent', () => {
  // Each case starts a quota hold, so each gets a fresh proxy.
  let fresh: Harness;
  beforeEach(async () => {
    fresh = await startHarness({ env: { CACHE_TTL_MS: '0' }, random: () => 0 });
  });
  afterEach(() => fresh.close());

  it.each<[string, ScriptedResponse]>([
    ['423 (credits exhausted)', { status: 423 }],
    ['429 without Retry-After (quota spent)', { status: 429 }],
    ['429 with an unreadable Retry-After', { status: 429, headers: { 'retry-after': 'in a while' } }],
  ])(
    'upstream %s → 503 upstream_quota_exhausted with Retry-After until the next probe, after exactly one call',
    async (_case, scripted) => {
      fresh.upstream.enqueue({
        ...scripted,
        headers: { ...scripted.headers, 'x-request-id': `ntropy-${scripted.status}` },
      });
      const res = await getBatches(fresh);
      const body = expectProblem(res, 503, 'upstream_quota_exhausted');
      // QUOTA_PROBE_INTERVAL_MS defaults to 30 s.
      expect(res.headers['retry-after']).toBe('30');
      expect(body.upstream_status).toBe(scripted.status);
      expect(body.upstream_request_id).toBe(`ntropy-${scripted.status}`);
      expectUpstreamMiss(res, scripted.status);
      expect(fresh.upstream.received).toHaveLength(1);
      expect(await auditOf(fresh, res)).toMatchObject({ reason: `http_${scripted.status}` });
    },
  );
});

describe('GET /v3/batches — malformed or oversized upstream pages', () => {
  it.each([
    ['not JSON', 'this is not json'],
    ['empty', ''],
    ['JSON null', 'null'],
    ['a JSON array', '[]'],
    ['JSON without a data array', '{"next_cursor":null,"items":[]}'],
    ['data that is not an array', '{"next_cursor":null,"data":{}}'],
    ['next_cursor a number', '{"next_cursor":5,"data":[]}'],
  ])('a 200 whose body is %s → 502 upstream_error', async (_case, body) => {
    h.upstream.enqueue({ body, headers: { 'x-request-id': 'ntropy-malformed' } });
    const res = await getBatches(h);
    const problem = expectProblem(res, 502, 'upstream_error');
    expect(problem.upstream_status).toBe(200);
    expect(problem.upstream_request_id).toBe('ntropy-malformed');
    expectUpstreamMiss(res, 200);
  });

  it('a body over 5 MB → 502 upstream_error', async () => {
    h.upstream.enqueue({ body: paddedPage(5_100_000) });
    const res = await getBatches(h);
    expectProblem(res, 502, 'upstream_error');
    expect(res.headers['x-cache']).toBe('MISS');
    expect(res.text.length).toBeLessThan(10_000);
  });

  it('an oversized body still names the upstream status and request id it came with', async () => {
    h.upstream.enqueue({ body: paddedPage(5_100_000), headers: { 'x-request-id': 'ntropy-huge' } });
    const res = await getBatches(h);
    const body = expectProblem(res, 502, 'upstream_error');
    expect(body.upstream_status).toBe(200);
    expect(body.upstream_request_id).toBe('ntropy-huge');
    expectUpstreamMiss(res, 200);
  });

  it('a page just under 5 MB is served', async () => {
    const page = paddedPage(4_990_000);
    h.upstream.enqueue({ body: page });
    const res = await getBatches(h);
    expect(res.status).toBe(200);
    expect(res.text).toBe(page);
  });
});

describe('GET /v3/batches — the audit line names the cause of an upstream-caused error', () => {
  it.each<[string, string, ScriptedResponse[], number]>([
    ['a 500', 'http_500', [{ status: 500 }], 502],
    ['503s until the retries run out', 'http_503', Array<ScriptedResponse>(4).fill({ status: 503 }), 502],
    ['a 401 (the server key)', 'http_401', [{ status: 401 }], 502],
    ['a redirect', 'redirect', [{ status: 302, headers: { location: '/elsewhere' }, body: '' }], 502],
    ['a 200 that is not a page', 'malformed_body', [{ body: 'not json' }], 502],
    ['a body over 5 MB', 'too_large', [{ body: paddedPage(5_100_000) }], 502],
    ['resets until the retries run out', 'ECONNRESET', Array<ScriptedResponse>(4).fill({ reset: true }), 502],
    ['an upstream 404 (the client’s)', 'http_404', [{ status: 404 }], 404],
  ])('%s → reason %s, kept on the server', async (_case, reason, scripted, status) => {
    h.upstream.enqueue(...scripted);
    const res = await getBatches(h);
    expect(res.status).toBe(status);
    expect((await auditOf(h, res)).reason).toBe(reason);
    expect(res.body).not.toHaveProperty('reason');
  });
});

describe('GET /v3/batches — the API key never leaks', () => {
  it('redacts the key from an upstream 400 detail', async () => {
    h.upstream.enqueue({ status: 400, body: { detail: `rejected key ${API_KEY} for this query` } });
    const res = await getBatches(h);
    const body = expectProblem(res, 400, 'invalid_query');
    expect(body.detail).toContain('rejected key');
    expect(body.detail).toContain('for this query');
    expectKeyNowhere(res, h);
  });

  it('redacts the key from a 422 detail list and its errors', async () => {
    h.upstream.enqueue({
      status: 422,
      body: { detail: [{ loc: ['query', API_KEY], msg: `bad value ${API_KEY}`, type: 'value_error' }] },
    });
    const res = await getBatches(h);
    const body = expectProblem(res, 400, 'invalid_query');
    expect(body.errors).toHaveLength(1);
    expect(body.errors?.[0]?.message).toContain('bad value');
    expectKeyNowhere(res, h);
  });

  it('redacts the key from an upstream X-Request-ID', async () => {
    h.upstream.enqueue({ status: 500, headers: { 'x-request-id': `req-${API_KEY}` } });
    const res = await getBatches(h);
    expectProblem(res, 502, 'upstream_error');
    await auditOf(h, res);
    expectKeyNowhere(res, h);
  });
});

describe('GET /v3/batches — upstream unreachable', () => {
  let down: Harness;
  beforeAll(async () => {
    down = await startHarness({
      env: { NTROPY_BASE_URL: await closedPortUrl(), UPSTREAM_MAX_RETRIES: '1' },
      random: () => 0,
    });
  });
  afterAll(() => down.close());

  it('answers 502 upstream_unavailable with no upstream status or request id', async () => {
    const res = await getBatches(down);
    const body = expectProblem(res, 502, 'upstream_unavailable');
    expectNoUpstreamResponse(body);
    expectUpstreamMiss(res, undefined);
    expectKeyNowhere(res, down);
    expect(await auditOf(down, res)).toMatchObject({ reason: 'ECONNREFUSED', upstream_attempts: 2 });
  });

  it('names a name that does not resolve in the audit line', async () => {
    const nowhere = await startHarness({
      env: { NTROPY_BASE_URL: 'http://ntropy-bff-test.invalid', UPSTREAM_MAX_RETRIES: '0' },
    });
    try {
      const res = await getBatches(nowhere);
      expectProblem(res, 502, 'upstream_unavailable');
      // ENOTFOUND where a resolver answers; EAI_AGAIN where none can be reached at all.
      expect((await auditOf(nowhere, res)).reason).toMatch(/^(ENOTFOUND|EAI_AGAIN)$/);
    } finally {
      await nowhere.close();
    }
  });
});

describe('GET /v3/batches — upstream timeout', () => {
  let slow: Harness;
  beforeAll(async () => {
    slow = await startHarness({
      env: { UPSTREAM_TIMEOUT_MS: '100', UPSTREAM_MAX_RETRIES: '0', CACHE_TTL_MS: '0' },
      random: () => 0,
    });
  });
  afterAll(() => slow.close());

  it('answers 504 upstream_timeout when an attempt outlives UPSTREAM_TIMEOUT_MS', async () => {
    slow.upstream.enqueue({ hang: true });
    const res = await getBatches(slow);
    const body = expectProblem(res, 504, 'upstream_timeout');
    expectNoUpstreamResponse(body);
    expectUpstreamMiss(res, undefined);
    expect(slow.upstream.received).toHaveLength(1);
    expectKeyNowhere(res, slow);
    expect(await auditOf(slow, res)).toMatchObject({ reason: 'timeout', upstream_attempts: 1 });
  });
});

describe('GET /v3/batches — a failure without a response after one with a response', () => {
  let flaky: Harness;
  beforeAll(async () => {
    flaky = await startHarness({
      env: { UPSTREAM_TIMEOUT_MS: '100', UPSTREAM_MAX_RETRIES: '1', CACHE_TTL_MS: '0' },
      random: () => 0,
    });
  });
  afterAll(() => flaky.close());
  beforeEach(() => flaky.upstream.reset());

  it('a 503 then a timeout → 504 naming the 503 as the last upstream response', async () => {
    flaky.upstream.enqueue({ status: 503, headers: { 'x-request-id': 'up-503-a' } }, { hang: true });
    const res = await getBatches(flaky);
    const body = expectProblem(res, 504, 'upstream_timeout');
    expect(body.upstream_status).toBe(503);
    expect(body.upstream_request_id).toBe('up-503-a');
    expectUpstreamMiss(res, 503);
    expect(flaky.upstream.received).toHaveLength(2);
  });

  it('a 502 then a reset → 502 upstream_unavailable naming the 502 as the last upstream response', async () => {
    flaky.upstream.enqueue({ status: 502, headers: { 'x-request-id': 'up-502-b' } }, { reset: true });
    const res = await getBatches(flaky);
    const body = expectProblem(res, 502, 'upstream_unavailable');
    expect(body.upstream_status).toBe(502);
    expect(body.upstream_request_id).toBe('up-502-b');
    expectUpstreamMiss(res, 502);
    expect(flaky.upstream.received).toHaveLength(2);
  });
});
