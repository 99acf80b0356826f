// SPEC "Serving stale" and "Success" as pure tables: which errors a stale page may replace, and the Cache-Status forms.
import { describe, expect, it } from 'vitest';
import {
  ageSeconds,
  hitCacheStatus,
  isStaleReplaceable,
  keptPageAnswer,
  missCacheStatus,
  staleCacheStatus,
} from '../src/batches/cache-status.js';
import type { ProblemCode } from '../src/problem.js';

describe('isStaleReplaceable — the stale-or-error decision', () => {
  it.each<[ProblemCode, boolean]>([
    ['upstream_error', true],
    ['upstream_unavailable', true],
    ['upstream_timeout', true],
    ['upstream_rate_limited', true],
    ['upstream_quota_exhausted', true],
    ['upstream_auth_failed', false],
    ['invalid_query', false],
    ['not_found', false],
    ['bad_request', false],
    ['unauthorized', false],
    ['forbidden', false],
    ['rate_limited', false],
    ['internal_error', false],
  ])('%s → %s', (code, isReplaceable) => {
    expect(isStaleReplaceable(code)).toBe(isReplaceable);
  });
});

describe('keptPageAnswer — a kept page is never STALE while it is fresh', () => {
  it.each<[number, 'HIT' | 'STALE']>([
    [-4000, 'HIT'],
    [-1, 'HIT'],
    [0, 'STALE'],
    [1, 'STALE'],
    [250_000, 'STALE'],
  ])('stale for %i ms → %s', (staleForMs, answer) => {
    expect(keptPageAnswer(staleForMs)).toBe(answer);
  });
});

describe('staleCacheStatus', () => {
  it.each<[number | undefined, number, string]>([
    [503, 0, 'ntropy-bff; fwd=stale; fwd-status=503; ttl=0'],
    [503, 999, 'ntropy-bff; fwd=stale; fwd-status=503; ttl=0'],
    [500, 1000, 'ntropy-bff; fwd=stale; fwd-status=500; ttl=-1'],
    [429, 2999, 'ntropy-bff; fwd=stale; fwd-status=429; ttl=-2'],
    [undefined, 61_500, 'ntropy-bff; fwd=stale; ttl=-61'],
    [423, -500, 'ntropy-bff; fwd=stale; fwd-status=423; ttl=0'],
  ])('upstream %s, stale for %i ms → %s', (upstreamStatus, staleForMs, expected) => {
    expect(staleCacheStatus(upstreamStatus, staleForMs)).toBe(expected);
  });
});

describe('hitCacheStatus and missCacheStatus', () => {
  it.each<[number, string]>([
    [4999, 'ntropy-bff; hit; ttl=4'],
    [1000, 'ntropy-bff; hit; ttl=1'],
    [999, 'ntropy-bff; hit; ttl=0'],
  ])('a hit with %i ms left → %s', (ttlLeftMs, expected) => {
    expect(hitCacheStatus(ttlLeftMs)).toBe(expected);
  });

  it.each<[number | undefined, boolean, boolean, string]>([
    [200, true, false, 'ntropy-bff; fwd=uri-miss; fwd-status=200; stored'],
    [200, true, true, 'ntropy-bff; fwd=uri-miss; fwd-status=200; stored; collapsed'],
    [200, false, false, 'ntropy-bff; fwd=uri-miss; fwd-status=200'],
    [503, false, true, 'ntropy-bff; fwd=uri-miss; fwd-status=503; collapsed'],
    [undefined, false, false, 'ntropy-bff; fwd=uri-miss'],
  ])('a miss with upstream %s, stored %s, collapsed %s → %s', (status, isStored, isCollapsed, expected) => {
    expect(missCacheStatus(status, isStored, isCollapsed)).toBe(expected);
  });
});

describe('ageSeconds', () => {
  it.each([
    [0, 0],
    [999, 0],
    [1000, 1],
    [3500, 3],
    [-20, 0],
  ])('%i ms after the fetch → Age %i', (elapsedMs, age) => {
    expect(ageSeconds(1_000_000, 1_000_000 + elapsedMs)).toBe(age);
  });
});
