// SPEC "Rate-limit-aware retries", quota hold: after a 423 or a bare 429, one probe per interval and no other call.
import { describe, expect, it } from 'vitest';
import type { ScriptedResponse } from '../src/demo/simulated-ntropy.js';
import { createLocalQuotaHold } from '../src/upstream/quota-hold.js';
import type { QuotaAdmission, QuotaHoldState } from '../src/upstream/quota-policy.js';
import { auditOf } from './helpers/audit-lines.js';
import { useClockedHarness } from './helpers/clocked-harness.js';
import type { Harness } from './helpers/harness.js';
import { readMetric } from './helpers/metric-value.js';
import { expectProblem, getBatches } from './helpers/problem.js';

/** A fresh proxy per test (nothing cached, holds 60 s, one probe per 10 s) whose clock moves only when the test moves it. */
function useQuotaHarness(env: Record<string, string> = {}) {
  return useClockedHarness(
    { env: { CACHE_TTL_MS: '0', QUOTA_HOLD_MS: '60000', QUOTA_PROBE_INTERVAL_MS: '10000', ...env } },
    { frozen: true },
  );
}

function linesOf(h: Harness, message: string): Record<string, unknown>[] {
  return h.logs.records().filter((record) => String(record.msg).startsWith(message));
}

describe('GET /v3/batches — the quota hold', () => {
  const clocked = useQuotaHarness();

  it.each<[string, ScriptedResponse]>([
    ['a 423', { status: 423 }],
    ['a 429 without Retry-After', { status: 429 }],
  ])(
    'after %s no call goes upstream: 503 at once, with Retry-After until the next probe',
    async (_case, spent) => {
      const { h, advanceTo } = clocked();
      h.upstream.enqueue(spent);
      const first = await getBatches(h, '?limit=1');
      expectProblem(first, 503, 'upstream_quota_exhausted');
      expect(first.headers['retry-after']).toBe('10');

      await advanceTo(4_000);
      const held = await getBatches(h, '?limit=2');
      await advanceTo(9_600);
      const nearProbe = await getBatches(h, '?limit=3');

      const body = expectProblem(held, 503, 'upstream_quota_exhausted');
      expect(held.headers['retry-after']).toBe('6');
      expect(body).not.toHaveProperty('upstream_status');
      expect(nearProbe.headers['retry-after']).toBe('1');
      expect(h.upstream.received).toHaveLength(1);
      expect(await auditOf(h, held)).toMatchObject({
        status: 503,
        code: 'upstream_quota_exhausted',
        reason: 'quota_hold',
        upstream_attempts: 0,
        upstream_status: null,
      });
      expect(linesOf(h, 'quota hold started')).toEqual([expect.objectContaining({ level: 40 })]);
      expect(linesOf(h, 'upstream call failed')).toHaveLength(1);
      expect(await readMetric(h, 'ntropy_bff_upstream_quota_holds_total')).toBe(1);
      expect(await readMetric(h, 'ntropy_bff_upstream_quota_hold_active')).toBe(1);
    },
  );

  it('lets exactly one probe go per interval, however many requests arrive together', async () => {
    const { h, advanceTo } = clocked();
    h.upstream.enqueue({ status: 423 });
    await getBatches(h, '?limit=1');

    await advanceTo(10_000);
    // The probe is slow, so that the others arrive while it is out.
    h.upstream.enqueue({ status: 423, delayMs: 200 });
    const together = await Promise.all([2, 3, 4, 5, 6].map((limit) => getBatches(h, `?limit=${limit}`)));

    expect(together.map((res) => res.status)).toEqual(Array(5).fill(503));
    expect(h.upstream.received).toHaveLength(2);
    const audits = await Promise.all(together.map((res) => auditOf(h, res)));
    expect(audits.filter((line) => line.upstream_attempts === 1)).toHaveLength(1);
    expect(audits.filter((line) => line.reason === 'quota_hold')).toHaveLength(4);
    expect(await readMetric(h, 'ntropy_bff_upstream_quota_probes_total')).toBe(1);
  });

  it('renews the hold when the probe is refused again, and lifts it at once when a probe gets a page', async () => {
    const { h, advanceTo } = clocked();
    h.upstream.enqueue({ status: 423 });
    await getBatches(h, '?limit=1');

    await advanceTo(10_000);
    h.upstream.enqueue({ status: 423 });
    const refusedProbe = await getBatches(h, '?limit=2');
    await advanceTo(15_000);
    const afterRenewal = await getBatches(h, '?limit=3');
    await advanceTo(20_000);
    const liftingProbe = await getBatches(h, '?limit=4');
    const free = await Promise.all([getBatches(h, '?limit=5'), getBatches(h, '?limit=6')]);

    expect(refusedProbe.headers['retry-after']).toBe('10');
    expect(afterRenewal.headers['retry-after']).toBe('5');
    expect(liftingProbe.status).toBe(200);
    expect(free.map((res) => res.status)).toEqual([200, 200]);
    expect(h.upstream.received.map((r) => r.query.get('limit'))).toEqual(
      ['1', '2', '4', '5', '6'].map(String),
    );
    expect(linesOf(h, 'quota hold renewed')).toEqual([expect.objectContaining({ level: 40 })]);
    expect(linesOf(h, 'quota hold lifted')).toEqual([
      expect.objectContaining({ level: 30, reason: 'probe_succeeded' }),
    ]);
    expect(await readMetric(h, 'ntropy_bff_upstream_quota_hold_active')).toBe(0);
  });
});

describe('GET /v3/batches — the quota hold runs out', () => {
  // No probe is due before the hold ends.
  const clocked = useQuotaHarness({ QUOTA_HOLD_MS: '20000', QUOTA_PROBE_INTERVAL_MS: '60000' });

  it('calls upstream again once QUOTA_HOLD_MS has passed, and says the hold is over', async () => {
    const { h, advanceTo } = clocked();
    h.upstream.enqueue({ status: 423 });
    const spent = await getBatches(h, '?limit=1');
    await advanceTo(19_500);
    const justBefore = await getBatches(h, '?limit=2');
    await advanceTo(20_000);
    const after = await getBatches(h, '?limit=3');

    expect(spent.headers['retry-after']).toBe('20');
    expect(justBefore.status).toBe(503);
    expect(justBefore.headers['retry-after']).toBe('1');
    expect(after.status).toBe(200);
    expect(h.upstream.received.map((r) => r.query.get('limit'))).toEqual(['1', '3']);
    expect(linesOf(h, 'quota hold lifted')).toEqual([
      expect.objectContaining({ level: 30, reason: 'expired' }),
    ]);
  });
});

describe('GET /v3/batches — the quota hold with a kept page', () => {
  const clocked = useQuotaHarness({ CACHE_TTL_MS: '1000', CACHE_STALE_IF_ERROR_MS: '60000' });

  it('answers with the stale page at once, calling nothing upstream', async () => {
    const { h, advanceTo } = clocked();
    h.upstream.enqueue({ headers: { 'x-request-id': 'up-kept' } });
    const kept = await getBatches(h, '?limit=10');
    h.upstream.enqueue({ status: 423 });
    await getBatches(h, '?limit=20');
    await advanceTo(3_000);

    const res = await getBatches(h, '?limit=10');

    expect(res.status).toBe(200);
    expect(res.headers['x-cache']).toBe('STALE');
    expect(res.headers['cache-status']).toMatch(/^ntropy-bff; fwd=stale; ttl=-\d+$/);
    expect(res.text).toBe(kept.text);
    expect(h.upstream.received).toHaveLength(2);
  });
});

describe('the quota hold — taking on the hold other replicas left in shared state', () => {
  const settings = { holdMs: 60_000, probeIntervalMs: 10_000 };
  it.each<[string, boolean, QuotaHoldState | undefined, string[], QuotaAdmission]>([
    [
      'no hold here, one in shared state: it starts here',
      false,
      { heldUntilMs: 70_000, lastProbeAtMs: 10_000 },
      ['started'],
      { action: 'refuse', retryAfterMs: 8000 },
    ],
    [
      'the same hold on both sides: nothing new',
      true,
      { heldUntilMs: 60_000, lastProbeAtMs: 0 },
      [],
      { action: 'probe' },
    ],
    [
      'another replica took the probe: none here until the next interval',
      true,
      { heldUntilMs: 60_000, lastProbeAtMs: 10_000 },
      [],
      { action: 'refuse', retryAfterMs: 8000 },
    ],
    [
      "another replica's probe renewed the hold",
      true,
      { heldUntilMs: 70_000, lastProbeAtMs: 10_000 },
      ['renewed'],
      { action: 'refuse', retryAfterMs: 8000 },
    ],
    ["another replica's probe lifted it", true, undefined, ['ended lifted_elsewhere'], { action: 'call' }],
    ['no hold on either side', false, undefined, [], { action: 'call' }],
  ])('%s', async (_case, isHeldHere, shared, events, admission) => {
    const seen: string[] = [];
    const hold = createLocalQuotaHold(settings, {
      quotaHoldStarted: (_untilMs, _nowMs, isRenewal) => seen.push(isRenewal ? 'renewed' : 'started'),
      quotaHoldEnded: (reason) => seen.push(`ended ${reason}`),
      quotaProbe: () => {},
    });
    if (isHeldHere) await hold.hold(0);
    seen.length = 0;
    hold.adopt(shared, 12_000);
    expect(seen).toEqual(events);
    expect(await hold.admit(12_000)).toEqual(admission);
  });
});
