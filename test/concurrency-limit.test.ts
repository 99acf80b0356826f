// SPEC "Rate-limit-aware retries", adaptive concurrency: at most the limit in flight, a FIFO queue, AIMD on 429s.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningServer } from '../src/server.js';
import { auditLineOf, auditOf } from './helpers/audit-lines.js';
import { useClockedHarness } from './helpers/clocked-harness.js';
import { listenHarness, startHarness, type Harness, type HarnessOptions } from './helpers/harness.js';
import { readMetric } from './helpers/metric-value.js';
import { expectProblem, getBatches } from './helpers/problem.js';
import { sendAndHold } from './helpers/raw-request.js';

const harnesses: Harness[] = [];
const servers: RunningServer[] = [];
afterEach(async () => {
  for (const running of servers.splice(0)) {
    running.server.closeAllConnections();
    await new Promise<void>((resolve) => running.server.close(() => resolve()));
  }
  for (const h of harnesses.splice(0)) await h.close();
});

/** A fresh proxy for one test: nothing cached, no backoff. */
async function harness(env: Record<string, string>, options: HarnessOptions = {}): Promise<Harness> {
  const h = await startHarness({ random: () => 0, ...options, env: { CACHE_TTL_MS: '0', ...env } });
  harnesses.push(h);
  return h;
}

async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > giveUpAt) throw new Error('condition not met in time');
    await sleep(5);
  }
}

const limitOf = (h: Harness) => readMetric(h, 'ntropy_bff_upstream_concurrency_limit');
const queueOf = (h: Harness) => readMetric(h, 'ntropy_bff_upstream_queue_length');

describe('simulated Ntropy — in-flight counter', () => {
  it('counts the requests being answered and the most at once, and reset() starts the maximum afresh', async () => {
    const h = await harness({});
    h.upstream.setDefault({ delayMs: 100 });
    const calls = Promise.all([getBatches(h, '?limit=1'), getBatches(h, '?limit=2')]);
    await waitUntil(() => h.upstream.inFlight() === 2);
    await calls;
    expect([h.upstream.inFlight(), h.upstream.maxInFlight()]).toEqual([0, 2]);
    h.upstream.reset();
    expect(h.upstream.maxInFlight()).toBe(0);
  });
});

describe('GET /v3/batches — upstream concurrency', () => {
  it('never has more than UPSTREAM_MAX_CONCURRENCY calls in flight; the others wait their turn', async () => {
    const h = await harness({ UPSTREAM_MAX_CONCURRENCY: '3' });
    // Long enough that all ten are in before the first three are answered, on a loaded machine too.
    h.upstream.setDefault({ delayMs: 300 });
    const limits = Array.from({ length: 10 }, (_, index) => index + 1);

    const pending = Promise.all(limits.map((limit) => getBatches(h, `?limit=${limit}`)));
    await waitUntil(async () => h.upstream.inFlight() === 3 && (await queueOf(h)) === 7);
    const answers = await pending;

    expect(answers.map((res) => res.status)).toEqual(limits.map(() => 200));
    expect(h.upstream.received).toHaveLength(10);
    expect(h.upstream.maxInFlight()).toBe(3);
    expect(await queueOf(h)).toBe(0);
    expect(await limitOf(h)).toBe(3);
  });

  it('lets queued calls go in the order they arrived', async () => {
    const h = await harness({ UPSTREAM_MAX_CONCURRENCY: '1' });
    // Long enough for four requests to queue behind it one by one, on a loaded machine too.
    h.upstream.enqueue({ delayMs: 2000 });
    const first = getBatches(h, '?cursor=first').then((res) => res);
    await waitUntil(() => h.upstream.received.length === 1);
    const queued = [];
    for (const [index, cursor] of ['b', 'c', 'd', 'e'].entries()) {
      queued.push(getBatches(h, `?cursor=${cursor}`).then((res) => res));
      await waitUntil(async () => (await queueOf(h)) === index + 1);
    }

    await Promise.all([first, ...queued]);

    expect(h.upstream.received.map((r) => r.query.get('cursor'))).toEqual(['first', 'b', 'c', 'd', 'e']);
    expect(h.upstream.maxInFlight()).toBe(1);
  });

  it('halves the limit on a 429, and leaves it on a 503', async () => {
    const h = await harness({ UPSTREAM_MAX_CONCURRENCY: '8' });
    h.upstream.enqueue({ status: 503 });
    await getBatches(h, '?limit=1');
    const afterOutage = await limitOf(h);
    h.upstream.enqueue({ status: 429, headers: { 'retry-after': '0' } });
    await getBatches(h, '?limit=2');
    const afterRateLimit = await limitOf(h);

    h.upstream.reset();
    h.upstream.setDefault({ delayMs: 300 });
    // Six at once: four go, two wait; the limit only grows after four successes, when none is left waiting.
    const six = Promise.all(Array.from({ length: 6 }, (_, index) => getBatches(h, `?limit=${index + 11}`)));
    await waitUntil(async () => h.upstream.inFlight() === 4 && (await queueOf(h)) === 2);
    await six;

    expect([afterOutage, afterRateLimit]).toEqual([8, 4]);
    expect(h.upstream.maxInFlight()).toBe(4);
  });

  it('raises the limit by one per limit’s worth of successful calls, up to the maximum', async () => {
    const h = await harness({ UPSTREAM_MAX_CONCURRENCY: '4' });
    h.upstream.enqueue(
      { status: 429, headers: { 'retry-after': '0' } },
      { status: 429, headers: { 'retry-after': '0' } },
    );
    await getBatches(h, '?limit=1');
    // Two 429s: 4 → 2 → 1; then that request's own success.
    const limits = [await limitOf(h)];
    for (let limit = 2; limit <= 12; limit += 1) {
      await getBatches(h, `?limit=${limit}`);
      limits.push(await limitOf(h));
    }

    expect(limits).toEqual([2, 2, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4]);
  });
});

/**
 * With a limit of 1: a call for `?cursor=holder` hangs in the one slot, a request for `?cursor=queued`
 * waits behind it, and a late joiner keeps the holder's call going past the queued request's deadline
 * (REQUEST_DEADLINE_MS=1000: the joiner comes 400 ms after the queued request).
 */
async function queueBehindHolder(h: Harness) {
  h.upstream.enqueue({ hang: true });
  const callsBefore = h.upstream.received.length;
  const holder = getBatches(h, '?cursor=holder').then((res) => res);
  await waitUntil(() => h.upstream.received.length === callsBefore + 1);
  const queued = getBatches(h, '?cursor=queued').then((res) => res);
  await waitUntil(async () => (await queueOf(h)) === 1);
  await sleep(400);
  const joiner = getBatches(h, '?cursor=holder').then((res) => res);
  return { queued, finish: Promise.all([holder, joiner]) };
}

describe('GET /v3/batches — waiting in the queue', () => {
  it('answers 504 upstream_timeout when the deadline comes while queued, and the query never goes upstream', async () => {
    const h = await harness({ UPSTREAM_MAX_CONCURRENCY: '1', REQUEST_DEADLINE_MS: '1000' });
    const { queued, finish } = await queueBehindHolder(h);

    const res = await queued;

    expectProblem(res, 504, 'upstream_timeout');
    expect(await auditOf(h, res)).toMatchObject({ reason: 'deadline', upstream_attempts: 0 });
    expect(await queueOf(h)).toBe(0);
    await finish;
    expect(h.upstream.received.map((r) => r.query.get('cursor'))).toEqual(['holder']);
  });

  it('forgets a client that leaves the queue: its query never goes upstream', async () => {
    const h = await harness({ UPSTREAM_MAX_CONCURRENCY: '1', REQUEST_DEADLINE_MS: '2000' });
    const running = await listenHarness(h);
    servers.push(running);
    // A page for any cursor, the holder's slow.
    h.upstream.setDefault({});
    h.upstream.enqueue({ delayMs: 500 });
    const holder = getBatches(h, '?cursor=holder').then((res) => res);
    await waitUntil(() => h.upstream.received.length === 1);
    const leaver = sendAndHold(running.url, 'leaves-the-queue', '?cursor=leaver');
    await waitUntil(async () => (await queueOf(h)) === 1);

    leaver.destroy();
    await waitUntil(async () => (await queueOf(h)) === 0);
    expect((await holder).status).toBe(200);
    const after = await getBatches(h, '?cursor=after');

    expect(after.status).toBe(200);
    expect(h.upstream.received.map((r) => r.query.get('cursor'))).toEqual(['holder', 'after']);
    expect(await auditLineOf(h, 'leaves-the-queue')).toMatchObject({ status: 499, upstream_attempts: 0 });
  });
});

describe('GET /v3/batches — waiting in the queue, with a kept page', () => {
  const clocked = useClockedHarness({
    env: { UPSTREAM_MAX_CONCURRENCY: '1', REQUEST_DEADLINE_MS: '1000', CACHE_TTL_MS: '1000' },
  });

  it('answers with the stale page when the deadline comes while queued', async () => {
    const { h, advanceTo } = clocked();
    h.upstream.setDefault({});
    const kept = await getBatches(h, '?cursor=queued');
    await advanceTo(5_000);
    const { queued, finish } = await queueBehindHolder(h);

    const res = await queued;

    expect(res.status).toBe(200);
    expect(res.headers['x-cache']).toBe('STALE');
    expect(res.text).toBe(kept.text);
    await finish;
    expect(h.upstream.received.map((r) => r.query.get('cursor'))).toEqual(['queued', 'holder']);
  });
});
