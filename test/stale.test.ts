// SPEC "Serving stale": a kept page answers an upstream-caused error (RFC 5861 stale-if-error), never a fresh request.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Response } from 'supertest';
import { describe, expect, it } from 'vitest';
import type { ScriptedResponse } from '../src/demo/simulated-ntropy.js';
import { auditOf } from './helpers/audit-lines.js';
import { useClockedHarness, type ClockedHarness } from './helpers/clocked-harness.js';
import type { Harness, HarnessOptions } from './helpers/harness.js';
import { readMetric } from './helpers/metric-value.js';
import { expectProblem, getBatches } from './helpers/problem.js';
import { bearer } from './helpers/tokens.js';

const TTL_MS = 1000;
const STALE_MS = 10_000;
/** 2.5 s past freshness: Age 3, and the stale Cache-Status says ttl=-2 (plus the real time the request took). */
const STALE_AT_MS = 3500;

/** A fresh proxy per test: pages fresh for 1 s then kept 10 s, one retry, attempts cut at 200 ms. */
function useStaleHarness(options: HarnessOptions = {}): () => ClockedHarness {
  return useClockedHarness({
    ...options,
    env: {
      CACHE_TTL_MS: String(TTL_MS),
      CACHE_STALE_IF_ERROR_MS: String(STALE_MS),
      UPSTREAM_MAX_RETRIES: '1',
      UPSTREAM_TIMEOUT_MS: '200',
      ...options.env,
    },
  });
}

/** Stores one page for `target` (`body`, or a realistic one), produced by the upstream call `up-kept`; returns its body. */
async function keepPage(h: Harness, target = '?limit=10', body?: string): Promise<string> {
  h.upstream.enqueue({ headers: { 'x-request-id': 'up-kept' }, ...(body === undefined ? {} : { body }) });
  const res = await getBatches(h, target);
  expect(res.headers['cache-status']).toBe('ntropy-bff; fwd=uri-miss; fwd-status=200; stored');
  return res.text;
}

/** A stale answer; `fwdStatus` is the failed call's upstream status, if one came. */
function expectStale(
  clocked: ClockedHarness,
  res: Response,
  body: string,
  fwdStatus: number | undefined,
): void {
  expect(res.status).toBe(200);
  expect(res.text).toBe(body);
  expect(res.headers['content-type']).toBe('application/json');
  expect(res.headers['x-cache']).toBe('STALE');
  const prefix = `ntropy-bff; fwd=stale; ${fwdStatus === undefined ? '' : `fwd-status=${fwdStatus}; `}ttl=-`;
  const cacheStatus = String(res.headers['cache-status']);
  expect(cacheStatus.startsWith(prefix)).toBe(true);
  expectWithin(Number(cacheStatus.slice(prefix.length)), clocked.secondsSince(TTL_MS));
  expectWithin(Number(res.headers.age), clocked.secondsSince(0));
  expect(res.headers['x-upstream-request-id']).toBe('up-kept');
  expect(res.headers['cache-control']).toBe('private, no-store');
}

function expectWithin(value: number, bounds: { min: number; max: number }): void {
  expect(value).toBeGreaterThanOrEqual(bounds.min);
  expect(value).toBeLessThanOrEqual(bounds.max);
}

describe('GET /v3/batches — a kept page answers an upstream-caused error', () => {
  const clocked = useStaleHarness();

  it('answers 200 with the stale page, X-Cache: STALE, the stale Cache-Status and Age, and audits it', async () => {
    const { h, advanceTo } = clocked();
    const body = await keepPage(h);
    await advanceTo(STALE_AT_MS);
    h.upstream.enqueue({ status: 503 }, { status: 503, headers: { 'x-request-id': 'up-failed' } });

    const res = await getBatches(h);

    expectStale(clocked(), res, body, 503);
    expect(h.upstream.received).toHaveLength(3);
    expect(await auditOf(h, res)).toMatchObject({
      status: 200,
      cache: 'STALE',
      upstream_status: 503,
      upstream_attempts: 2,
      upstream_request_id: 'up-failed',
    });
    expect(await readMetric(h, 'ntropy_bff_cache_lookups_total{result="stale"}')).toBe(1);
  });

  it.each<[string, ScriptedResponse[], number | undefined]>([
    ['upstream_error (a 500)', [{ status: 500 }], 500],
    ['upstream_error (a malformed page)', [{ body: 'not a page' }], 200],
    ['upstream_unavailable (resets)', [{ reset: true }, { reset: true }], undefined],
    ['upstream_timeout (attempts that hang)', [{ hang: true }, { hang: true }], undefined],
    [
      'upstream_rate_limited (a Retry-After past the deadline)',
      [{ status: 429, headers: { 'retry-after': '60' } }],
      429,
    ],
    ['upstream_quota_exhausted (a 423)', [{ status: 423 }], 423],
    ['upstream_quota_exhausted (a 429 without Retry-After)', [{ status: 429 }], 429],
  ])('replaces %s', async (_row, failures, fwdStatus) => {
    const { h, advanceTo } = clocked();
    const body = await keepPage(h);
    await advanceTo(STALE_AT_MS);
    h.upstream.enqueue(...failures);

    const res = await getBatches(h);

    expectStale(clocked(), res, body, fwdStatus);
    expect((await auditOf(h, res)).cache).toBe('STALE');
  });

  it.each<[string, number, number, string]>([
    ['an upstream 400', 400, 400, 'invalid_query'],
    ['an upstream 422', 422, 400, 'invalid_query'],
    ['an upstream 404', 404, 404, 'not_found'],
    ['an upstream 401 (upstream_auth_failed)', 401, 502, 'upstream_auth_failed'],
    ['an upstream 403 (upstream_auth_failed)', 403, 502, 'upstream_auth_failed'],
  ])('never replaces %s', async (_case, upstreamStatus, status, code) => {
    const { h, advanceTo } = clocked();
    await keepPage(h);
    await advanceTo(STALE_AT_MS);
    h.upstream.enqueue({ status: upstreamStatus });

    const res = await getBatches(h);

    expectProblem(res, status, code);
    expect(res.headers['x-cache']).toBe('MISS');
    expect((await auditOf(h, res)).cache).toBe('MISS');
    expect(await readMetric(h, 'ntropy_bff_cache_lookups_total{result="stale"}')).toBe(0);
  });

  it('serves HEAD the stale headers without a body', async () => {
    const { h, advanceTo } = clocked();
    await keepPage(h);
    await advanceTo(STALE_AT_MS);
    h.upstream.enqueue({ status: 500 });

    const res = await h.request.head('/v3/batches?limit=10').set('Authorization', bearer());

    expect(res.status).toBe(200);
    expect(res.headers['x-cache']).toBe('STALE');
    expect(res.text).toBeUndefined();
  });

  it('never serves a stale page as fresh: the request goes upstream first and stores the new page', async () => {
    const { h, advanceTo } = clocked();
    await keepPage(h);
    await advanceTo(STALE_AT_MS);
    h.upstream.enqueue({
      body: '{"next_cursor":null,"data":[],"fresh":true}',
      headers: { 'x-request-id': 'up-new' },
    });

    const refreshed = await getBatches(h);
    const hit = await getBatches(h);

    expect(refreshed.headers['x-cache']).toBe('MISS');
    expect(refreshed.headers['cache-status']).toBe('ntropy-bff; fwd=uri-miss; fwd-status=200; stored');
    expect(refreshed.text).toBe('{"next_cursor":null,"data":[],"fresh":true}');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers['x-upstream-request-id']).toBe('up-new');
    expect(h.upstream.received).toHaveLength(2);
  });

  it('answers the error once the stale window has passed', async () => {
    const { h, advanceTo } = clocked();
    await keepPage(h);
    await advanceTo(TTL_MS + STALE_MS + 1);
    h.upstream.enqueue({ status: 500 });

    const res = await getBatches(h);

    expectProblem(res, 502, 'upstream_error');
    expect(res.headers['x-cache']).toBe('MISS');
  });

  it('never answers with the page of another query', async () => {
    const { h, advanceTo } = clocked();
    await keepPage(h, '?limit=10');
    await advanceTo(STALE_AT_MS);
    h.upstream.enqueue({ status: 500 });

    const res = await getBatches(h, '?limit=11');

    expectProblem(res, 502, 'upstream_error');
  });

  it('serves the stale page at once while a Retry-After pause is on, calling nothing upstream', async () => {
    const { h, advanceTo } = clocked();
    const body = await keepPage(h, '?limit=10');
    await advanceTo(STALE_AT_MS);
    // Another query's 429 pauses every call for 1 s, well within this request's deadline.
    h.upstream.enqueue({ status: 429, headers: { 'retry-after': '1' } });
    const pausing = getBatches(h, '?limit=20').then((res) => res);
    await waitFor(() => h.upstream.received.length === 2);
    await sleep(20);

    const res = await getBatches(h, '?limit=10');

    expectStale(clocked(), res, body, undefined);
    // Answered before the pause was over: no wait, and the paused call has not gone out again yet.
    expect(h.upstream.received).toHaveLength(2);
    expect(await auditOf(h, res)).toMatchObject({
      cache: 'STALE',
      upstream_attempts: 0,
      upstream_waited_ms: 0,
    });
    expect((await pausing).status).toBe(200);
    expect(h.upstream.received).toHaveLength(3);
  });
});

describe('GET /v3/batches — the bounds count stale pages', () => {
  const byEntries = useStaleHarness({ env: { CACHE_MAX_ENTRIES: '2' } });

  it('evicts the least recently used stale page for a new one (CACHE_MAX_ENTRIES)', async () => {
    const { h, advanceTo } = byEntries();
    await keepPage(h, '?cursor=A');
    await keepPage(h, '?cursor=B');
    await advanceTo(STALE_AT_MS);
    await keepPage(h, '?cursor=C');
    h.upstream.setDefault({ status: 500 });

    const a = await getBatches(h, '?cursor=A');
    const b = await getBatches(h, '?cursor=B');

    expectProblem(a, 502, 'upstream_error');
    expect(b.headers['x-cache']).toBe('STALE');
  });
});

describe('GET /v3/batches — the byte bound counts stale pages', () => {
  const byBytes = useStaleHarness({ env: { CACHE_MAX_BYTES: '2000' } });

  it('evicts the least recently used stale page for a new one (CACHE_MAX_BYTES)', async () => {
    const { h, advanceTo } = byBytes();
    const page = (tag: string) => {
      const head = `{"next_cursor":null,"data":[],"tag":"${tag}","pad":"`;
      return `${head}${'x'.repeat(1000 - head.length - 2)}"}`;
    };
    await keepPage(h, '?cursor=A', page('A'));
    const b = await keepPage(h, '?cursor=B', page('B'));
    await advanceTo(STALE_AT_MS);
    await keepPage(h, '?cursor=C', page('C'));
    h.upstream.setDefault({ status: 500 });

    const staleA = await getBatches(h, '?cursor=A');
    const staleB = await getBatches(h, '?cursor=B');

    expectProblem(staleA, 502, 'upstream_error');
    expect(staleB.headers['x-cache']).toBe('STALE');
    expect(staleB.text).toBe(b);
  });
});

describe('GET /v3/batches — with CACHE_STALE_IF_ERROR_MS=0', () => {
  const clocked = useStaleHarness({ env: { CACHE_STALE_IF_ERROR_MS: '0' } });

  it('answers the error: nothing is kept past freshness', async () => {
    const { h, advanceTo } = clocked();
    await keepPage(h);
    await advanceTo(TTL_MS + 1);
    h.upstream.enqueue({ status: 500 });

    const res = await getBatches(h);

    expectProblem(res, 502, 'upstream_error');
    expect(await readMetric(h, 'ntropy_bff_cache_lookups_total{result="stale"}')).toBe(0);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > giveUpAt) throw new Error('condition not met in time');
    await sleep(5);
  }
}
