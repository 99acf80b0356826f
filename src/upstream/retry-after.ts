// Parses an HTTP Retry-After value (delta-seconds or HTTP-date) into milliseconds to wait (RFC 9110 §10.2.3).

/** Longest pause honoured: a bogus Retry-After must not freeze the process for days. */
export const MAX_RETRY_AFTER_MS = 600_000;

const DELTA_SECONDS = /^\s*(\d+)\s*$/;

/** Milliseconds to wait from `nowMs`, clamped to [0, MAX_RETRY_AFTER_MS]; undefined when absent or unreadable. */
export function parseRetryAfterMs(value: string | string[] | undefined, nowMs: number): number | undefined {
  if (typeof value !== 'string') return undefined;
  const delta = DELTA_SECONDS.exec(value);
  if (delta) return Math.min(Number(delta[1]) * 1000, MAX_RETRY_AFTER_MS);
  // HTTP-date: IMF-fixdate (and the obsolete forms Date.parse also reads); must name a weekday and GMT.
  if (!/^[A-Za-z]{3},? .*GMT\s*$/.test(value.trim())) return undefined;
  const atMs = Date.parse(value);
  if (Number.isNaN(atMs)) return undefined;
  return Math.min(Math.max(0, atMs - nowMs), MAX_RETRY_AFTER_MS);
}
