// SPEC "Rate-limit-aware retries" over HTTP: what is retried, how often, the shared pause, deadline, disconnects.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ScriptedResponse } from '../src/demo/simulated-ntropy.js';
import type { RunningServer } from '../src/server.js';
import { auditLineOf, auditOf } from './helpers/audit-lines.js';
import { listenHarness, startHarness, type Harness, type HarnessOptions } from './helpers/harness.js';
import { closedPortUrl, expectProblem, getBatches } from './helpers/problem.js';
import { sendAndHold } from './helpers/raw-request.js';

const harnesses: Harness[] = [];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  for (const harness of harnesses.splice(0)) await harness.close();
});

/** A fresh harness per test (closed after it); random 0 makes every backoff 0 unless a test says so. */
async function harness(options: HarnessOptions = {}): Promise<Harness> {
  const h = await startHarness({ random: () => 0, ...options, env: { CACHE_TTL_MS: '0', ...options.env } });
  harnesses.push(h);
  return h;
}

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > giveUpAt) throw new Error('condition not met in time');
    await sleep(5);
  }
}

/** The next whole-second HTTP-date at least `minAheadMs` away, and that instant on performance.now()'s clock. */
function httpDateAhead(minAheadMs: number): { header: string; atPerfMs: number; atDateMs: number } {
  const dateNow = Date.now();
  const perfNow = performance.now();
  const atDateMs = Math.ceil((dateNow + minAheadMs) / 1000) * 1000;
  return { header: new Date(atDateMs).toUTCString(), atPerfMs: perfNow + (atDateMs - dateNow), atDateMs };
}

/** Timer and clock granularity between the proxy's Date.now() and the simulator's performance.now(). */
const CLOCK_SLACK_MS = 10;

describe('GET /v3/batches — transient upstream failures are retried', () => {
  let shared: Harness;
  beforeAll(async () => {
    shared = await startHarness({ random: () => 0, env: { CACHE_TTL_MS: '0' } });
  });
  afterAll(() => shared.close());
  beforeEach(() => shared.upstream.reset());

  it.each<[string, ScriptedResponse[]]>([
    ['a 502', [{ status: 502 }]],
    ['a 503', [{ status: 503 }]],
    ['a 504', [{ status: 504 }]],
    ['a connection reset', [{ reset: true }]],
    ['two 503s', [{ status: 503 }, { status: 503 }]],
    ['a 502, a reset and a 504', [{ status: 502 }, { reset: true }, { status: 504 }]],
  ])('answers 200 after %s, with one call per attempt', async (_case, failures) => {
    const h = shared;
    h.upstream.enqueue(...failures, { headers: { 'x-request-id': 'ntropy-ok' } });
    const res = await getBatches(h);
    expect(res.status).toBe(200);
    expect(res.headers['x-upstream-request-id']).toBe('ntropy-ok');
    expect(h.upstream.received).toHaveLength(failures.length + 1);
    expect(await auditOf(h, res)).toMatchObject({
      status: 200,
      upstream_attempts: failures.length + 1,
      upstream_status: 200,
      upstream_request_id: 'ntropy-ok',
    });
  });

  it('stops at UPSTREAM_MAX_RETRIES and answers 502 upstream_error from the last response', async () => {
    const h = await harness({ env: { UPSTREAM_MAX_RETRIES: '2' } });
    // A fourth call would get the simulator's realistic 200.
    h.upstream.enqueue(
      { status: 503, headers: { 'x-request-id': 'up-1' } },
      { status: 502, headers: { 'x-request-id': 'up-2' } },
      { status: 503, headers: { 'x-request-id': 'up-3' } },
    );
    const res = await getBatches(h);
    const body = expectProblem(res, 502, 'upstream_error');
    expect(body.upstream_status).toBe(503);
    expect(body.upstream_request_id).toBe('up-3');
    expect(res.headers['cache-status']).toBe('ntropy-bff; fwd=uri-miss; fwd-status=503');
    expect(h.upstream.received).toHaveLength(3);
    expect(await auditOf(h, res)).toMatchObject({
      status: 502,
      code: 'upstream_error',
      upstream_attempts: 3,
      upstream_status: 503,
      upstream_request_id: 'up-3',
    });
  });

  it('logs one warn line naming the failed call, and none for a call that recovered', async () => {
    const h = await harness({ env: { UPSTREAM_MAX_RETRIES: '1' } });
    h.upstream.enqueue(
      { status: 503 },
      { status: 503, headers: { 'x-request-id': 'up-last' } },
      { status: 503 },
      {},
    );
    const failed = await getBatches(h, '?limit=10').set('X-Request-ID', 'fails-twice');
    const recovered = await getBatches(h, '?limit=20');
    expect([failed.status, recovered.status]).toEqual([502, 200]);
    const warnings = h.logs.records().filter((record) => record.level === 40);
    expect(warnings).toEqual([
      expect.objectContaining({
        msg: 'upstream call failed',
        request_id: 'fails-twice',
        code: 'upstream_error',
        reason: 'http_503',
        upstream_attempts: 2,
        upstream_status: 503,
        upstream_request_id: 'up-last',
      }),
    ]);
  });

  it('makes exactly one call when UPSTREAM_MAX_RETRIES=0', async () => {
    const h = await harness({ env: { UPSTREAM_MAX_RETRIES: '0' } });
    h.upstream.enqueue({ status: 503 });
    const res = await getBatches(h);
    expectProblem(res, 502, 'upstream_error');
    expect(h.upstream.received).toHaveLength(1);
  });

  it('sends every retry with the same query and request id', async () => {
    const h = shared;
    h.upstream.enqueue({ status: 503 }, { status: 502 });
    const res = await getBatches(h, '?status=completed&limit=5').set('X-Request-ID', 'retry-same-id');
    expect(res.status).toBe(200);
    expect(h.upstream.received.map((r) => r.url)).toEqual([
      '/v3/batches?limit=5&status=completed',
      '/v3/batches?limit=5&status=completed',
      '/v3/batches?limit=5&status=completed',
    ]);
    expect(h.upstream.received.map((r) => r.headers['x-request-id'])).toEqual([
      'retry-same-id',
      'retry-same-id',
      'retry-same-id',
    ]);
  });

  it('retries a per-attempt timeout: hang then 200 answers 200 after 2 calls', async () => {
    const h = await harness({ env: { UPSTREAM_TIMEOUT_MS: '100' } });
    h.upstream.enqueue({ hang: true });
    const res = await getBatches(h);
    expect(res.status).toBe(200);
    expect(h.upstream.received).toHaveLength(2);
    expect(await auditOf(h, res)).toMatchObject({ upstream_attempts: 2, upstream_status: 200 });
  });
});

describe('GET /v3/batches — upstream 429 with Retry-After', () => {
  it('waits Retry-After: 1 before the next call, then answers 200', async () => {
    const h = await harness();
    h.upstream.enqueue({ status: 429, headers: { 'retry-after': '1' } });
    const startedAt = performance.now();
    const res = await getBatches(h);
    const elapsedMs = performance.now() - startedAt;
    expect(res.status).toBe(200);
    expect(h.upstream.received).toHaveLength(2);
    const [first, second] = h.upstream.received;
    expect(second!.atMs - first!.atMs).toBeGreaterThanOrEqual(1000 - CLOCK_SLACK_MS);
    expect(elapsedMs).toBeGreaterThanOrEqual(1000 - CLOCK_SLACK_MS);
    const audit = await auditOf(h, res);
    expect(audit).toMatchObject({ status: 200, upstream_attempts: 2, upstream_status: 200 });
    expect(audit.upstream_waited_ms).toBeGreaterThan(0);
  });

  it('logs one warn line when the pause starts and one info line when it is over', async () => {
    const h = await harness();
    h.upstream.enqueue({ status: 429, headers: { 'retry-after': '1' } });
    await Promise.all([getBatches(h, '?limit=10'), getBatches(h, '?limit=20'), getBatches(h, '?limit=30')]);
    const others = h.logs.records().filter((record) => record.audit !== true);
    const paused = others.filter((record) => String(record.msg).startsWith('upstream calls paused'));
    expect(paused).toHaveLength(1);
    expect(paused[0]).toMatchObject({ level: 40 });
    expect(paused[0]?.pause_ms).toBeGreaterThan(900);
    const over = others.filter((record) => record.msg === 'upstream pause over');
    expect(over).toHaveLength(1);
    expect(over[0]).toMatchObject({ level: 30 });
    expect(others.filter((record) => record.msg === 'upstream call failed')).toEqual([]);
  });

  it('pauses every upstream call of the process: another query waits for the pause too', async () => {
    const h = await harness();
    const pause = httpDateAhead(300);
    h.upstream.enqueue({ status: 429, headers: { 'retry-after': pause.header } });
    const a = getBatches(h, '?limit=10').then((res) => res);
    await waitFor(() => h.upstream.received.length >= 1);
    await sleep(30);
    const bSentAtMs = Date.now();
    const b = getBatches(h, '?limit=20').then((res) => res);
    const [resA, resB] = await Promise.all([a, b]);

    expect(bSentAtMs).toBeLessThan(pause.atDateMs);
    expect(resA.status).toBe(200);
    expect(resB.status).toBe(200);
    expect(h.upstream.received).toHaveLength(3);
    const [first, ...after] = h.upstream.received;
    expect(first!.query.get('limit')).toBe('10');
    expect(after.map((r) => r.query.get('limit')).sort()).toEqual(['10', '20']);
    for (const call of after) expect(call.atMs).toBeGreaterThanOrEqual(pause.atPerfMs - CLOCK_SLACK_MS);
    expect((await auditOf(h, resB)).upstream_waited_ms).toBeGreaterThan(0);
  });

  it('does not recall a call already in flight when the pause starts: it answers 200 from its one attempt', async () => {
    const h = await harness();
    // A's page is slow; B's 429 arrives meanwhile and pauses every upstream call.
    h.upstream.enqueue({ delayMs: 800 }, { status: 429, headers: { 'retry-after': '1' } });
    const isPauseLogged = () =>
      h.logs.records().some((record) => String(record.msg).startsWith('upstream calls paused'));
    let wasPausedBeforeA = false;
    const a = getBatches(h, '?limit=10').then((res) => {
      wasPausedBeforeA = isPauseLogged();
      return res;
    });
    await waitFor(() => h.upstream.received.length >= 1);
    const b = getBatches(h, '?limit=20').then((res) => res);
    const [resA, resB] = await Promise.all([a, b]);

    expect(wasPausedBeforeA).toBe(true);
    expect(resA.status).toBe(200);
    expect(resB.status).toBe(200);
    expect(h.upstream.received.map((call) => call.query.get('limit'))).toEqual(['10', '20', '20']);
    expect(await auditOf(h, resA)).toMatchObject({ status: 200, upstream_attempts: 1, upstream_status: 200 });
    expect(await auditOf(h, resB)).toMatchObject({ status: 200, upstream_attempts: 2 });
  });

  // A frozen clock 700 ms past a whole second: the pause left is exact, so is its rounding up.
  it.each<[string, (frozenAtMs: number) => string]>([
    ['Retry-After: 5 (5 s left)', () => '5'],
    ['an HTTP-date 4.3 s ahead', (frozenAtMs) => new Date(frozenAtMs - 700 + 5000).toUTCString()],
  ])(
    'answers 429 upstream_rate_limited at once when the wait would cross REQUEST_DEADLINE_MS: %s gives Retry-After: 5',
    async (_case, retryAfter) => {
      const frozenAtMs = Math.floor(Date.now() / 1000) * 1000 + 700;
      const h = await harness({ now: () => frozenAtMs, env: { REQUEST_DEADLINE_MS: '500' } });
      h.upstream.enqueue({
        status: 429,
        headers: { 'retry-after': retryAfter(frozenAtMs), 'x-request-id': 'ntropy-429' },
      });
      const startedAt = performance.now();
      const res = await getBatches(h);
      expect(performance.now() - startedAt).toBeLessThan(2000);
      const body = expectProblem(res, 429, 'upstream_rate_limited');
      // SPEC "Normalized errors": whole seconds, rounded up, until the pause ends.
      expect(res.headers['retry-after']).toBe('5');
      expect(body.upstream_status).toBe(429);
      expect(body.upstream_request_id).toBe('ntropy-429');
      expect(res.headers['cache-status']).toBe('ntropy-bff; fwd=uri-miss; fwd-status=429');
      expect(h.upstream.received).toHaveLength(1);
      expect(await auditOf(h, res)).toMatchObject({
        status: 429,
        code: 'upstream_rate_limited',
        upstream_attempts: 1,
        upstream_status: 429,
      });
    },
  );

  it('answers 429 upstream_rate_limited without calling upstream when the pause outlasts the deadline', async () => {
    const h = await harness({ env: { REQUEST_DEADLINE_MS: '500' } });
    h.upstream.enqueue({ status: 429, headers: { 'retry-after': '5' } });
    await getBatches(h, '?limit=10');
    expect(h.upstream.received).toHaveLength(1);

    const startedAt = performance.now();
    const res = await getBatches(h, '?limit=20');
    expect(performance.now() - startedAt).toBeLessThan(2000);
    const body = expectProblem(res, 429, 'upstream_rate_limited');
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(4);
    expect(body).not.toHaveProperty('upstream_status');
    expect(body).not.toHaveProperty('upstream_request_id');
    expect(h.upstream.received).toHaveLength(1);
    expect(await auditOf(h, res)).toMatchObject({ status: 429, upstream_attempts: 0 });
  });

  it('answers 429 upstream_rate_limited with Retry-After when upstream is still 429 after the retries', async () => {
    const h = await harness({ env: { UPSTREAM_MAX_RETRIES: '0' } });
    h.upstream.enqueue({ status: 429, headers: { 'retry-after': '1' } });
    const res = await getBatches(h);
    const body = expectProblem(res, 429, 'upstream_rate_limited');
    expect(res.headers['retry-after']).toBe('1');
    expect(body.upstream_status).toBe(429);
    expect(h.upstream.received).toHaveLength(1);
  });
});

describe('GET /v3/batches — reading Retry-After', () => {
  it('treats a 429 Retry-After: 0 as no extra wait: the ordinary backoff applies, never an immediate retry', async () => {
    // random 0.999: backoffs of 99, 199 and 399 ms after the first, second and third attempt.
    const h = await harness({ random: () => 0.999 });
    const zero = { status: 429, headers: { 'retry-after': '0' } };
    h.upstream.enqueue(zero, zero, zero);
    const res = await getBatches(h);
    expect(res.status).toBe(200);
    expect(h.upstream.received).toHaveLength(4);
    expect(await auditOf(h, res)).toMatchObject({ upstream_attempts: 4, upstream_waited_ms: 99 + 199 + 399 });
    const [first, second] = h.upstream.received;
    expect(second!.atMs - first!.atMs).toBeGreaterThanOrEqual(99 - CLOCK_SLACK_MS);
  });

  it('treats a 429 Retry-After date in the past as no extra wait: the ordinary backoff applies', async () => {
    const h = await harness({ random: () => 0.999 });
    h.upstream.enqueue({ status: 429, headers: { 'retry-after': 'Sun, 06 Nov 1994 08:49:37 GMT' } });
    const res = await getBatches(h);
    expect(res.status).toBe(200);
    expect(h.upstream.received).toHaveLength(2);
    expect(await auditOf(h, res)).toMatchObject({ upstream_attempts: 2, upstream_waited_ms: 99 });
  });

  it('rounds a decimal Retry-After up to whole seconds and retries after it', async () => {
    const h = await harness();
    h.upstream.enqueue({ status: 429, headers: { 'retry-after': '0.2' } });
    const res = await getBatches(h);
    expect(res.status).toBe(200);
    expect(h.upstream.received).toHaveLength(2);
    const [first, second] = h.upstream.received;
    expect(second!.atMs - first!.atMs).toBeGreaterThanOrEqual(1000 - CLOCK_SLACK_MS);
  });

  it('waits a 503 Retry-After for that request only: another query goes upstream meanwhile', async () => {
    const h = await harness();
    h.upstream.enqueue({ status: 503, headers: { 'retry-after': '1' } });
    const a = getBatches(h, '?limit=10').then((res) => res);
    await waitFor(() => h.upstream.received.length >= 1);
    const b = await getBatches(h, '?limit=20');
    expect(b.status).toBe(200);
    expect(h.upstream.received.map((r) => r.query.get('limit'))).toEqual(['10', '20']);
    expect(await auditOf(h, b)).toMatchObject({ upstream_attempts: 1, upstream_waited_ms: 0 });

    const resA = await a;
    expect(resA.status).toBe(200);
    expect(h.upstream.received.map((r) => r.query.get('limit'))).toEqual(['10', '20', '10']);
    const [first, , retry] = h.upstream.received;
    expect(retry!.atMs - first!.atMs).toBeGreaterThanOrEqual(1000 - CLOCK_SLACK_MS);
  });

  it('answers a 503 whose Retry-After outlasts the deadline as 502 upstream_error, never as a rate limit, and pauses nothing', async () => {
    const h = await harness();
    h.upstream.enqueue({ status: 503, headers: { 'retry-after': '600', 'x-request-id': 'ntropy-503' } });
    const startedAt = performance.now();
    const res = await getBatches(h, '?limit=10');
    expect(performance.now() - startedAt).toBeLessThan(2000);
    const body = expectProblem(res, 502, 'upstream_error');
    expect(body.upstream_status).toBe(503);
    expect(res.headers['retry-after']).toBeUndefined();
    expect(h.upstream.received).toHaveLength(1);

    const other = await getBatches(h, '?limit=20');
    expect(other.status).toBe(200);
    expect(h.upstream.received).toHaveLength(2);
    expect(await auditOf(h, other)).toMatchObject({ upstream_attempts: 1, upstream_waited_ms: 0 });
  });
});

describe('GET /v3/batches — the request deadline', () => {
  it('answers 504 upstream_timeout when the deadline runs out during an attempt', async () => {
    const h = await harness({ env: { REQUEST_DEADLINE_MS: '300', UPSTREAM_TIMEOUT_MS: '10000' } });
    h.upstream.enqueue({ hang: true });
    const startedAt = performance.now();
    const res = await getBatches(h);
    expect(performance.now() - startedAt).toBeLessThan(2000);
    expectProblem(res, 504, 'upstream_timeout');
    expect(h.upstream.received).toHaveLength(1);
    expect(await auditOf(h, res)).toMatchObject({ reason: 'deadline', upstream_attempts: 1 });
  });

  it('answers with the last attempt’s row, not 504, when a backoff would cross the deadline', async () => {
    // random 0.999: waits of 99 ms then 199 ms; the second would cross a 250 ms deadline.
    const h = await harness({
      env: { REQUEST_DEADLINE_MS: '250', UPSTREAM_MAX_RETRIES: '5' },
      random: () => 0.999,
    });
    h.upstream.setDefault({ status: 503 });
    const res = await getBatches(h);
    const body = expectProblem(res, 502, 'upstream_error');
    expect(body.upstream_status).toBe(503);
    expect(h.upstream.received).toHaveLength(2);
  });
});

describe('GET /v3/batches — upstream unreachable', () => {
  it('retries a refused connection and answers 502 upstream_unavailable', async () => {
    const h = await harness({ env: { NTROPY_BASE_URL: await closedPortUrl(), UPSTREAM_MAX_RETRIES: '3' } });
    const res = await getBatches(h);
    expectProblem(res, 502, 'upstream_unavailable');
    expect(await auditOf(h, res)).toMatchObject({
      status: 502,
      code: 'upstream_unavailable',
      upstream_attempts: 4,
      upstream_status: null,
    });
  });

  it('answers 502 within the deadline bound when backoffs would outlast it', async () => {
    const h = await harness({
      env: { NTROPY_BASE_URL: await closedPortUrl(), UPSTREAM_MAX_RETRIES: '20', REQUEST_DEADLINE_MS: '250' },
      random: () => 0.999,
    });
    const startedAt = performance.now();
    const res = await getBatches(h);
    expect(performance.now() - startedAt).toBeLessThan(1250);
    expectProblem(res, 502, 'upstream_unavailable');
  });
});

/** The harness's app on a real socket, closed after the test. */
async function listenClosedAfter(h: Harness): Promise<RunningServer> {
  const running = await listenHarness(h);
  closers.push(async () => {
    running.server.closeAllConnections();
    await new Promise<void>((resolve) => running.server.close(() => resolve()));
  });
  return running;
}

describe('GET /v3/batches — a client that disconnects', () => {
  it('stops the retries and is audited as 499 client_closed_request', async () => {
    const h = await harness({ env: { UPSTREAM_MAX_RETRIES: '20' } });
    h.upstream.setDefault({ status: 503, delayMs: 40 });
    const running = await listenClosedAfter(h);

    const req = sendAndHold(running.url, 'client-gone-1');
    await waitFor(() => h.upstream.received.length >= 2);
    req.destroy();

    await sleep(100);
    const callsAtDisconnect = h.upstream.received.length;
    await sleep(300);
    expect(h.upstream.received.length).toBe(callsAtDisconnect);
    expect(callsAtDisconnect).toBeLessThan(21);
    expect(await auditLineOf(h, 'client-gone-1')).toMatchObject({
      status: 499,
      code: 'client_closed_request',
    });
  });

  it('counts the attempt it cut short, and is an ordinary outcome: no error line, no stack', async () => {
    const h = await harness();
    h.upstream.enqueue({ hang: true });
    const running = await listenClosedAfter(h);

    const req = sendAndHold(running.url, 'client-gone-2');
    await waitFor(() => h.upstream.received.length >= 1);
    req.destroy();

    expect(await auditLineOf(h, 'client-gone-2')).toMatchObject({
      status: 499,
      code: 'client_closed_request',
      upstream_attempts: 1,
    });
    await sleep(50);
    expect(h.logs.records().filter((record) => (record.level as number) >= 40)).toEqual([]);
    expect(h.logs.text()).not.toContain('unhandled error');
    expect(h.upstream.received).toHaveLength(1);
  });

  it('treats a connection closed when the shutdown grace ends the same way', async () => {
    const h = await harness();
    h.upstream.enqueue({ hang: true });
    const running = await listenHarness(h);

    sendAndHold(running.url, 'cut-at-shutdown');
    await waitFor(() => h.upstream.received.length >= 1);
    await running.shutdown(50);

    expect(await auditLineOf(h, 'cut-at-shutdown')).toMatchObject({
      status: 499,
      code: 'client_closed_request',
      upstream_attempts: 1,
    });
    expect(h.logs.text()).not.toContain('unhandled error');
  });
});
