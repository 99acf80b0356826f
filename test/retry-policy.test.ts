// SPEC "Rate-limit-aware retries" as pure tables: the retry decision, full-jitter backoff, Retry-After.
import { describe, expect, it } from 'vitest';
import { MAX_RETRY_AFTER_MS, parseRetryAfterMs } from '../src/upstream/retry-after.js';
import {
  BACKOFF_BASE_MS,
  BACKOFF_CAP_MS,
  BACKOFF_FLOOR_MS,
  backoffMs,
  decideRetry,
  pauseUntilMs,
  type AttemptOutcome,
  type RetryContext,
} from '../src/upstream/retry-policy.js';

/** A whole second, so HTTP-dates (which have no milliseconds) land exactly on it. */
const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);

function response(status: number, headers: Record<string, string> = {}, receivedAtMs = NOW): AttemptOutcome {
  return { kind: 'response', status, headers, body: Buffer.from('{}'), receivedAtMs };
}

function httpDate(atMs: number): string {
  return new Date(atMs).toUTCString();
}

/** RFC 9110's obsolete asctime form, e.g. `Thu Jan 15 12:00:05 2026` (always GMT, unstated). */
function asctimeDate(atMs: number): string {
  const [weekday = '', day = '', month = '', year = '', time = ''] = new Date(atMs)
    .toUTCString()
    .split(/,? /);
  return `${weekday} ${month} ${day.padStart(2, ' ')} ${time} ${year}`;
}

function decide(outcome: AttemptOutcome, overrides: Partial<RetryContext> = {}) {
  return decideRetry({
    outcome,
    retriesMade: 0,
    maxRetries: 3,
    nowMs: NOW,
    deadlineAtMs: NOW + 60_000,
    random: () => 0.5,
    ...overrides,
  });
}

describe('decideRetry — what is retried', () => {
  it.each<[string, AttemptOutcome]>([
    ['429 with Retry-After', response(429, { 'retry-after': '2' })],
    ['502', response(502)],
    ['503', response(503)],
    ['504', response(504)],
    ['a per-attempt timeout', { kind: 'timeout' }],
    ['a refused connection', { kind: 'unreachable', errorCode: 'ECONNREFUSED' }],
    ['a reset connection', { kind: 'unreachable', errorCode: 'ECONNRESET' }],
  ])('retries %s', (_case, outcome) => {
    expect(decide(outcome).action).toBe('retry');
  });

  it.each<[string, AttemptOutcome]>([
    ['400', response(400)],
    ['401', response(401)],
    ['403', response(403)],
    ['404', response(404)],
    ['422', response(422)],
    ['423', response(423)],
    ['423 even with Retry-After', response(423, { 'retry-after': '1' })],
    ['500', response(500)],
    ['500 even with Retry-After', response(500, { 'retry-after': '1' })],
    ['429 without Retry-After (the quota is spent)', response(429)],
    ['429 with an unreadable Retry-After', response(429, { 'retry-after': 'soon' })],
    ['a body over the size limit', { kind: 'too_large', status: 200, headers: {} }],
    ['301', response(301, { location: '/elsewhere' })],
    ['302', response(302, { location: '/elsewhere' })],
    ['304', response(304)],
    ['307', response(307, { location: '/elsewhere' })],
    ['308', response(308, { location: '/elsewhere' })],
  ])('never retries %s', (_case, outcome) => {
    expect(decide(outcome).action).toBe('give_up');
  });
});

describe('decideRetry — how many retries', () => {
  it.each([
    [0, 0, 'give_up'],
    [0, 3, 'retry'],
    [1, 3, 'retry'],
    [2, 3, 'retry'],
    [3, 3, 'give_up'],
    [4, 3, 'give_up'],
  ])('after %i retries with UPSTREAM_MAX_RETRIES=%i: %s', (retriesMade, maxRetries, action) => {
    expect(decide(response(503), { retriesMade, maxRetries }).action).toBe(action);
  });

  it('still pauses every call on a 429 Retry-After when the retries are used up', () => {
    const decision = decide(response(429, { 'retry-after': '2' }), { retriesMade: 3, maxRetries: 3 });
    expect(decision).toEqual({ action: 'give_up', pauseUntilMs: NOW + 2000 });
  });
});

describe('decideRetry — how long to wait', () => {
  it('waits Retry-After without jitter when it is given', () => {
    const decision = decide(response(429, { 'retry-after': '2' }), { random: () => 0.999 });
    expect(decision).toEqual({ action: 'retry', waitMs: 2000, pauseUntilMs: NOW + 2000 });
  });

  it('waits an HTTP-date Retry-After until that date', () => {
    const decision = decide(response(429, { 'retry-after': httpDate(NOW + 3000) }));
    expect(decision).toEqual({ action: 'retry', waitMs: 3000, pauseUntilMs: NOW + 3000 });
  });

  it('counts the Retry-After wait from when the 429 was received, not from the decision', () => {
    const decision = decide(response(429, { 'retry-after': '1' }, NOW), { nowMs: NOW + 400 });
    expect(decision).toEqual({ action: 'retry', waitMs: 600, pauseUntilMs: NOW + 1000 });
  });

  it('falls back to the ordinary backoff when the Retry-After has already passed at decision time', () => {
    const decision = decide(response(429, { 'retry-after': '1' }, NOW), { nowMs: NOW + 1500 });
    expect(decision).toEqual({ action: 'retry', waitMs: 50, pauseUntilMs: NOW + 1000 });
  });

  it.each<[string, AttemptOutcome, { waitMs: number; pauseUntilMs: number | undefined }]>([
    [
      'a 429 Retry-After: 0 (ordinary backoff, no pause)',
      response(429, { 'retry-after': '0' }),
      { waitMs: 50, pauseUntilMs: undefined },
    ],
    [
      'a 429 Retry-After date in the past (ordinary backoff, no pause)',
      response(429, { 'retry-after': httpDate(NOW - 5000) }),
      { waitMs: 50, pauseUntilMs: undefined },
    ],
    [
      'a 429 Retry-After: 1.5 (rounded up to 2 s)',
      response(429, { 'retry-after': '1.5' }),
      { waitMs: 2000, pauseUntilMs: NOW + 2000 },
    ],
    [
      'a 503 Retry-After: 2 (its own wait, no pause)',
      response(503, { 'retry-after': '2' }),
      { waitMs: 2000, pauseUntilMs: undefined },
    ],
    [
      'a 503 Retry-After: 0.2 (rounded up to 1 s)',
      response(503, { 'retry-after': '0.2' }),
      { waitMs: 1000, pauseUntilMs: undefined },
    ],
    [
      'a 503 Retry-After: 0 (ordinary backoff)',
      response(503, { 'retry-after': '0' }),
      { waitMs: 50, pauseUntilMs: undefined },
    ],
    [
      'a 503 with an unreadable Retry-After (ordinary backoff)',
      response(503, { 'retry-after': 'soon' }),
      { waitMs: 50, pauseUntilMs: undefined },
    ],
    [
      'a 502 with a Retry-After (ignored: ordinary backoff)',
      response(502, { 'retry-after': '5' }),
      { waitMs: 50, pauseUntilMs: undefined },
    ],
  ])('waits for %s', (_case, outcome, expected) => {
    expect(decide(outcome)).toEqual({ action: 'retry', ...expected });
  });

  it.each([
    [0, 0.5, 50],
    [1, 0.5, 100],
    [2, 0.999, 399],
    [5, 0.999, 1998],
  ])('backs off with full jitter after retry %i (random %d → %i ms)', (retriesMade, random, waitMs) => {
    const decision = decide(response(502), { retriesMade, maxRetries: 10, random: () => random });
    expect(decision).toEqual({ action: 'retry', waitMs, pauseUntilMs: undefined });
  });
});

describe('decideRetry — never past the deadline', () => {
  it.each<[string, AttemptOutcome, Partial<RetryContext>]>([
    ['a backoff', response(503), { random: () => 0.999, deadlineAtMs: NOW + 50 }],
    ['a Retry-After', response(429, { 'retry-after': '5' }), { deadlineAtMs: NOW + 1000 }],
    [
      'a Retry-After HTTP-date',
      response(429, { 'retry-after': httpDate(NOW + 5000) }),
      { deadlineAtMs: NOW + 1000 },
    ],
    ['even no wait, once the deadline has come', response(503), { random: () => 0, deadlineAtMs: NOW }],
  ])('gives up when %s would cross it', (_case, outcome, overrides) => {
    expect(decide(outcome, overrides).action).toBe('give_up');
  });

  it.each<[string, AttemptOutcome, Partial<RetryContext>, number]>([
    ['a backoff', response(503), { random: () => 0.999, deadlineAtMs: NOW + 200 }, 99],
    ['a Retry-After', response(429, { 'retry-after': '1' }), { deadlineAtMs: NOW + 5000 }, 1000],
  ])('retries when %s ends before it', (_case, outcome, overrides, waitMs) => {
    expect(decide(outcome, overrides)).toMatchObject({ action: 'retry', waitMs });
  });

  it('gives up on a 503 whose own Retry-After crosses the deadline, pausing nothing', () => {
    const decision = decide(response(503, { 'retry-after': '600' }), { deadlineAtMs: NOW + 15_000 });
    expect(decision).toEqual({ action: 'give_up', pauseUntilMs: undefined });
  });

  it('still pauses every call when a 429 wait crosses the deadline', () => {
    const decision = decide(response(429, { 'retry-after': '5' }), { deadlineAtMs: NOW + 1000 });
    expect(decision).toEqual({ action: 'give_up', pauseUntilMs: NOW + 5000 });
  });
});

describe('backoffMs — full jitter', () => {
  it.each([0, 1, 2, 3, 4, 5, 6, 10])(
    'is the floor, never 0, when random gives 0: no immediate retry (retry %i)',
    (retryIndex) => {
      expect(BACKOFF_FLOOR_MS).toBeGreaterThan(0);
      expect(backoffMs(retryIndex, () => 0)).toBe(BACKOFF_FLOOR_MS);
      expect(backoffMs(retryIndex, () => 0.05)).toBeGreaterThanOrEqual(BACKOFF_FLOOR_MS);
    },
  );

  it.each([
    [0, 100],
    [1, 200],
    [2, 400],
    [3, 800],
    [4, 1600],
    [5, 2000],
    [6, 2000],
    [30, 2000],
  ])(
    'stays just under min(cap, base·2^n) when random gives 0.999 (retry %i, bound %i ms)',
    (retryIndex, boundMs) => {
      expect(Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** retryIndex)).toBe(boundMs);
      const waitMs = backoffMs(retryIndex, () => 0.999);
      expect(waitMs).toBeLessThan(boundMs);
      expect(waitMs).toBeGreaterThanOrEqual(Math.floor(boundMs * 0.999));
    },
  );

  it('is a whole number of milliseconds', () => {
    expect(Number.isInteger(backoffMs(3, () => 0.123456))).toBe(true);
  });
});

describe('parseRetryAfterMs', () => {
  it.each<[string, string, number]>([
    ['0 seconds', '0', 0],
    ['1 second', '1', 1000],
    ['120 seconds', '120', 120_000],
    ['an IMF-fixdate 5 s ahead', httpDate(NOW + 5000), 5000],
    ['an IMF-fixdate 1 s ahead', httpDate(NOW + 1000), 1000],
    ['an IMF-fixdate that is now', httpDate(NOW), 0],
    ['an IMF-fixdate in the past', httpDate(NOW - 60_000), 0],
    ['an IMF-fixdate long past', 'Sun, 06 Nov 1994 08:49:37 GMT', 0],
    ['an obsolete RFC 850 date in the past', 'Sunday, 06-Nov-94 08:49:37 GMT', 0],
    ['an obsolete asctime date 5 s ahead', asctimeDate(NOW + 5000), 5000],
    ['a decimal, rounded up', '1.5', 2000],
    ['a decimal under a second, rounded up', '0.2', 1000],
    ['a decimal just over a whole second, rounded up', '2.000000000000000000001', 3000],
    ['a decimal with only zeros after the point', '2.000', 2000],
    ['zero written as a decimal', '0.0', 0],
    ['seconds with surrounding spaces', ' 3 ', 3000],
  ])('reads %s', (_case, value, expectedMs) => {
    expect(parseRetryAfterMs(value, NOW)).toBe(expectedMs);
  });

  it.each<[string, string | string[] | undefined]>([
    ['absent', undefined],
    ['empty', ''],
    ['a word', 'soon'],
    ['negative', '-1'],
    ['a point without a fraction', '1.'],
    ['a fraction without a whole part', '.5'],
    ['a negative decimal', '-1.5'],
    ['a decimal comma', '1,5'],
    ['signed', '+5'],
    ['exponent notation', '1e3'],
    ['hexadecimal', '0x10'],
    ['seconds with a unit', '5 s'],
    ['two values', '1, 2'],
    ['an impossible date', 'Mon, 32 Foo 2026 99:99:99 GMT'],
    ['a date without a zone', '2026-01-15T12:00:05'],
    ['an ISO 8601 date', '2026-01-15T12:00:05Z'],
    ['an array of values', ['1', '2']],
  ])('is undefined when the value is %s', (_case, value) => {
    expect(parseRetryAfterMs(value, NOW)).toBeUndefined();
  });

  it.each<[string, string]>([
    ['exactly the maximum', String(MAX_RETRY_AFTER_MS / 1000)],
    ['a day of seconds', '86400'],
    ['an absurd number of seconds', '99999999999999999999999'],
    ['a decimal over the maximum', '600.5'],
    ['a date decades ahead', 'Fri, 01 Jan 2100 00:00:00 GMT'],
  ])('clamps %s to MAX_RETRY_AFTER_MS', (_case, value) => {
    expect(parseRetryAfterMs(value, NOW)).toBe(MAX_RETRY_AFTER_MS);
  });
});

describe('pauseUntilMs — the process-wide pause', () => {
  it.each<[string, AttemptOutcome, number | undefined]>([
    [
      'a 429 Retry-After in seconds, from receipt',
      response(429, { 'retry-after': '3' }, NOW + 250),
      NOW + 3250,
    ],
    [
      'a 429 Retry-After HTTP-date',
      response(429, { 'retry-after': httpDate(NOW + 4000) }, NOW + 250),
      NOW + 4000,
    ],
    ['a 429 Retry-After decimal, rounded up', response(429, { 'retry-after': '0.5' }, NOW), NOW + 1000],
    [
      'a 429 Retry-After date already past (no pause)',
      response(429, { 'retry-after': httpDate(NOW - 4000) }),
      undefined,
    ],
    ['a 429 Retry-After: 0 (no pause)', response(429, { 'retry-after': '0' }), undefined],
    ['a 503 Retry-After (its own wait, never a pause)', response(503, { 'retry-after': '3' }), undefined],
    ['a 429 without Retry-After', response(429), undefined],
    ['a 429 with an unreadable Retry-After', response(429, { 'retry-after': 'later' }), undefined],
    ['a 502 without Retry-After', response(502), undefined],
    ['a timeout', { kind: 'timeout' }, undefined],
    ['an unreachable upstream', { kind: 'unreachable', errorCode: 'ECONNREFUSED' }, undefined],
    ['a body over the size limit', { kind: 'too_large', status: 200, headers: {} }, undefined],
  ])('for %s', (_case, outcome, expected) => {
    expect(pauseUntilMs(outcome)).toBe(expected);
  });
});
