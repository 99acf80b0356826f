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
  | { kind: 'timeout' }
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

/** Full-jitter exponential backoff: uniform in [0, min(cap, base * 2^retry)). */
export function backoffMs(retryIndex: number, random: () => number): number {
  return Math.floor(random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** retryIndex));
}

/** When upstream told us to wait, the process-wide pause ends here (counted from receipt of the response). */
export function pauseUntilMs(outcome: AttemptOutcome): number | undefined {
  if (outcome.kind !== 'response' || (outcome.status !== 429 && outcome.status !== 503)) return undefined;
  const waitMs = parseRetryAfterMs(outcome.headers['retry-after'], outcome.receivedAtMs);
  return waitMs === undefined ? undefined : outcome.receivedAtMs + waitMs;
}

function isRetriable(outcome: AttemptOutcome, pauseUntil: number | undefined): boolean {
  switch (outcome.kind) {
    case 'timeout':
    case 'unreachable':
      return true;
    case 'too_large':
      return false;
    case 'response':
      // A 429 without Retry-After means the quota is spent: only Ntropy can lift it.
      return outcome.status === 429 ? pauseUntil !== undefined : TRANSIENT_STATUSES.has(outcome.status);
  }
}

export function decideRetry(context: RetryContext): RetryDecision {
  const { outcome, retriesMade, maxRetries, nowMs, deadlineAtMs, random } = context;
  const pauseUntil = pauseUntilMs(outcome);
  if (!isRetriable(outcome, pauseUntil) || retriesMade >= maxRetries) {
    return { action: 'give_up', pauseUntilMs: pauseUntil };
  }
  const waitMs = pauseUntil === undefined ? backoffMs(retriesMade, random) : Math.max(0, pauseUntil - nowMs);
  // SPEC: never past the deadline; a wait that would cross it means answer now.
  if (nowMs + waitMs >= deadlineAtMs) return { action: 'give_up', pauseUntilMs: pauseUntil };
  return { action: 'retry', waitMs, pauseUntilMs: pauseUntil };
}
