// Parses an HTTP Retry-After value (delta-seconds or HTTP-date) into milliseconds to wait (RFC 9110 §10.2.3).

/** Longest pause honoured: a bogus Retry-After must not freeze the process for days. */
export const MAX_RETRY_AFTER_MS = 600_000;

// SPEC "Rate-limit-aware retries": whole seconds, or a decimal rounded up to whole seconds.
const SECONDS = /^\s*(\d+)(?:\.(\d+))?\s*$/;
// RFC 9110 §5.6.7: IMF-fixdate and the obsolete RFC 850 form name GMT; asctime is GMT without saying so.
const IMF_OR_RFC_850 = /^[A-Za-z]{3,9}, .+ GMT$/;
const ASCTIME = /^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;

/**
 * Milliseconds to wait from `nowMs`, clamped to [0, MAX_RETRY_AFTER_MS]; undefined when absent or
 * unreadable. 0 (a `0`, or a date not in the future) means "no extra wait", not "retry at once".
 */
export function parseRetryAfterMs(value: string | string[] | undefined, nowMs: number): number | undefined {
  if (typeof value !== 'string') return undefined;
  const seconds = SECONDS.exec(value);
  if (seconds) {
    // Counted on the digits, so a fraction too fine for a double still rounds up.
    const roundUp = /[1-9]/.test(seconds[2] ?? '') ? 1 : 0;
    return Math.min((Number(seconds[1]) + roundUp) * 1000, MAX_RETRY_AFTER_MS);
  }
  const date = value.trim();
  const atMs = IMF_OR_RFC_850.test(date)
    ? Date.parse(date)
    : ASCTIME.test(date)
      ? Date.parse(`${date} GMT`)
      : NaN;
  if (Number.isNaN(atMs)) return undefined;
  return Math.min(Math.max(0, atMs - nowMs), MAX_RETRY_AFTER_MS);
}
