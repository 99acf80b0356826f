// SPEC "Rate-limit-aware retries", quota hold, as a pure table: may this call go, probe, or wait, and for how long?
import { describe, expect, it } from 'vitest';
import {
  admitCall,
  startHold,
  type QuotaAdmission,
  type QuotaHoldState,
} from '../src/upstream/quota-policy.js';

const SETTINGS = { holdMs: 300_000, probeIntervalMs: 30_000 };
/** A hold started at t=0 by a 423. */
const HELD: QuotaHoldState = { heldUntilMs: 300_000, lastProbeAtMs: 0 };

describe('startHold', () => {
  it('holds for QUOTA_HOLD_MS from the answer, which counts as the last probe', () => {
    expect(startHold(12_345, SETTINGS)).toEqual({ heldUntilMs: 312_345, lastProbeAtMs: 12_345 });
  });
});

describe('admitCall — may this call go upstream?', () => {
  it.each<[string, QuotaHoldState | undefined, number, QuotaAdmission]>([
    ['no hold', undefined, 1_000, { action: 'call' }],
    ['just after the hold began', HELD, 1, { action: 'refuse', retryAfterMs: 29_999 }],
    ['1 ms before the first probe is due', HELD, 29_999, { action: 'refuse', retryAfterMs: 1 }],
    ['when the first probe is due', HELD, 30_000, { action: 'probe' }],
    ['long after a probe was due, nobody having asked', HELD, 200_000, { action: 'probe' }],
    [
      'while a probe is out',
      { ...HELD, lastProbeAtMs: 30_000 },
      45_000,
      { action: 'refuse', retryAfterMs: 15_000 },
    ],
    [
      'near the end, when the hold ends before the next probe',
      { ...HELD, lastProbeAtMs: 290_000 },
      299_000,
      { action: 'refuse', retryAfterMs: 1_000 },
    ],
    ['once the hold has run out', HELD, 300_000, { action: 'call' }],
    [
      'after a renewal',
      { heldUntilMs: 400_000, lastProbeAtMs: 100_000 },
      110_000,
      { action: 'refuse', retryAfterMs: 20_000 },
    ],
  ])('%s', (_case, state, nowMs, expected) => {
    expect(admitCall(state, nowMs, SETTINGS)).toEqual(expected);
  });

  it('a probe interval longer than the hold: refused until the hold ends, then calls go freely', () => {
    const settings = { holdMs: 10_000, probeIntervalMs: 30_000 };
    const held = startHold(0, settings);
    expect(admitCall(held, 5_000, settings)).toEqual({ action: 'refuse', retryAfterMs: 5_000 });
    expect(admitCall(held, 10_000, settings)).toEqual({ action: 'call' });
  });
});
