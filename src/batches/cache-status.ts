// The RFC 9211 Cache-Status values of SPEC "Success", Age, and which failures a stale page may answer.
import type { ProblemCode } from '../problem.js';

/** SPEC "Serving stale": only upstream-caused rows; client-caused answers and upstream_auth_failed never. */
const STALE_REPLACEABLE = new Set<ProblemCode>([
  'upstream_error',
  'upstream_unavailable',
  'upstream_timeout',
  'upstream_rate_limited',
  'upstream_quota_exhausted',
]);

export function isStaleReplaceable(code: ProblemCode): boolean {
  return STALE_REPLACEABLE.has(code);
}

/**
 * How a kept page answers a failed call: as STALE, or as a HIT when it is fresh again (another call for
 * the same query stored it after this request looked the page up). Never STALE for a fresh page.
 */
export function keptPageAnswer(staleForMs: number): 'HIT' | 'STALE' {
  return staleForMs < 0 ? 'HIT' : 'STALE';
}

export function hitCacheStatus(ttlLeftMs: number): string {
  return `ntropy-bff; hit; ttl=${Math.floor(ttlLeftMs / 1000)}`;
}

/** A miss (also on upstream-caused errors); `fwd-status` only when an upstream response came. */
export function missCacheStatus(
  upstreamStatus: number | undefined,
  isStored: boolean,
  isCollapsed: boolean,
): string {
  return (
    'ntropy-bff; fwd=uri-miss' +
    (upstreamStatus === undefined ? '' : `; fwd-status=${upstreamStatus}`) +
    (isStored ? '; stored' : '') +
    (isCollapsed ? '; collapsed' : '')
  );
}

/** A stale page served instead of an error: ttl is minus the whole seconds since it went stale, rounded towards zero. */
export function staleCacheStatus(upstreamStatus: number | undefined, staleForMs: number): string {
  const staleS = Math.floor(Math.max(0, staleForMs) / 1000);
  return (
    'ntropy-bff; fwd=stale' +
    (upstreamStatus === undefined ? '' : `; fwd-status=${upstreamStatus}`) +
    `; ttl=${staleS === 0 ? 0 : -staleS}`
  );
}

/** Whole seconds since the page was fetched (RFC 9111 Age), never negative. */
export function ageSeconds(fetchedAtMs: number, nowMs: number): number {
  return Math.max(0, Math.floor((nowMs - fetchedAtMs) / 1000));
}
