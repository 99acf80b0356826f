// The retry decision (SPEC "Rate-limit-aware retries"): a pure function over one attempt's outcome.
import { parseRetryAfterMs } from './retry-after.js';

export type AttemptOutcome =
  | {
      kind: 'response';
      status: number;
      headers: Record<string, string | string[] | undefined>;
      body: Buffer;
      receivedAtMs: number;
    }
  /** Cut by UPSTREAM_TIMEOUT_MS, or (`byDeadline`) by the deadline of the latest request waiting for it. */
  | { kind: 'timeout'; byDeadline?: boolean }
  | { kind: 'unreachable'; errorCode: string }
  /** The body passed the size cap; status and headers when they had arrived. */
  | { kind: 'too_large'; status: number | undefined; headers: Record<string, string | string[] | undefined> };

export interface RetryContext {
  outcome: AttemptOutcome;
  /** Retries already made before this decision (0 after the first attempt). */
  retriesMade: number;
  maxRetries: number;
  nowMs: number;
  deadlineAtMs: number;
  random: () => number;
}

export type RetryDecision =
  | { action: 'retry'; waitMs: number; pauseUntilMs: number | undefined }
  | { action: 'give_up'; pauseUntilMs: number | undefined };

export const BACKOFF_BASE_MS = 100;
export const BACKOFF_CAP_MS = 2000;

const TRANSIENT_STATUSES = new Set([502, 503, 504]);

/** The least backoff: full jitter could draw 0, and SPEC allows no immediate retry (a `Retry-After: 0` included). */
export const BACKOFF_FLOOR_MS = 10;

/** Full-jitter exponential backoff: uniform in [0, min(cap, base * 2^retry)), never under the floor. */
export function backoffMs(retryIndex: number, random: () => number): number {
  const drawnMs = Math.floor(random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** retryIndex));
  return Math.max(BACKOFF_FLOOR_MS, drawnMs);
}

/** The Retry-After of a 429 or 503 in milliseconds from its receipt; undefined when absent or unreadable. */
export function retryAfterMs(outcome: AttemptOutcome): number | undefined {
  if (outcome.kind !== 'response' || (outcome.status !== 429 && outcome.status !== 503)) return undefined;
  return parseRetryAfterMs(outcome.headers['retry-after'], outcome.receivedAtMs);
}

/**
 * Only a 429's Retry-After pauses every call of the process, counted from receipt of the response
 * (SPEC "Rate-limit-aware retries"); a 503's is that request's own wait, and a 0 pauses nothing.
 */
export function pauseUntilMs(outcome: AttemptOutcome): number | undefined {
  return outcome.kind === 'response' && outcome.status === 429 ? askedUntilMs(outcome) : undefined;
}

/** A 423, or a 429 without a readable Retry-After: only Ntropy can lift these (SPEC quota hold). */
export function isQuotaSpent(outcome: AttemptOutcome): boolean {
  if (outcome.kind !== 'response') return false;
  return outcome.status === 423 || (outcome.status === 429 && retryAfterMs(outcome) === undefined);
}

function isRetriable(outcome: AttemptOutcome): boolean {
  switch (outcome.kind) {
    case 'timeout':
    case 'unreachable':
      return true;
    case 'too_large':
      return false;
    case 'response':
      // A 429 without a readable Retry-After means the quota is spent: only Ntropy can lift it.
      return outcome.status === 429
        ? retryAfterMs(outcome) !== undefined
        : TRANSIENT_STATUSES.has(outcome.status);
  }
}

/** When the wait upstream asked for ends; undefined when it asked for none (then the backoff applies). */
function askedUntilMs(outcome: AttemptOutcome): number | undefined {
  const waitMs = retryAfterMs(outcome);
  return waitMs === undefined || waitMs === 0 || outcome.kind !== 'response'
    ? undefined
    : outcome.receivedAtMs + waitMs;
}

export function decideRetry(context: RetryContext): RetryDecision {
  const { outcome, retriesMade, maxRetries, nowMs, deadlineAtMs, random } = context;
  const pauseUntil = pauseUntilMs(outcome);
  if (!isRetriable(outcome) || retriesMade >= maxRetries) {
    return { action: 'give_up', pauseUntilMs: pauseUntil };
  }
  // SPEC: a Retry-After of 0, or one already over, means the ordinary backoff, never an immediate retry.
  const untilMs = askedUntilMs(outcome);
  const waitMs = untilMs !== undefined && untilMs > nowMs ? untilMs - nowMs : backoffMs(retriesMade, random);
  // SPEC: never past the deadline; a wait that would cross it means answer now.
  if (nowMs + waitMs >= deadlineAtMs) return { action: 'give_up', pauseUntilMs: pauseUntil };
  return { action: 'retry', waitMs, pauseUntilMs: pauseUntil };
}
