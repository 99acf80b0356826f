// The process-wide pause (SPEC "Rate-limit-aware retries"): one upstream 429's Retry-After holds back every call.
import { quietEvents, type UpstreamEvents } from './upstream-events.js';

/**
 * The pause as the upstream call sees it. Async so that a shared implementation (several replicas) can
 * sit behind the same interface; this process's own is below.
 */
export interface PauseGate {
  /** Extends the pause to `untilMs` (never shortens it). */
  pauseUntil(untilMs: number, nowMs: number): Promise<void>;
  /** Milliseconds left on the pause at `nowMs` (0 when calls may go). */
  remainingMs(nowMs: number): Promise<number>;
}

export function createLocalPauseGate(
  events: Pick<UpstreamEvents, 'pauseStarted' | 'pauseEnded'> = quietEvents,
) {
  let pausedUntilMs = 0;
  let isPaused = false;
  // The end is noticed by the next look at the gate (a call waking from the pause, or the next request),
  // so that no timer outlives the work and an injected clock drives it all.
  function noticeEnd(nowMs: number): void {
    if (isPaused && pausedUntilMs <= nowMs) {
      isPaused = false;
      events.pauseEnded();
    }
  }
  const gate: PauseGate = {
    pauseUntil(untilMs, nowMs) {
      noticeEnd(nowMs);
      if (untilMs > pausedUntilMs) pausedUntilMs = untilMs;
      if (!isPaused && pausedUntilMs > nowMs) {
        isPaused = true;
        events.pauseStarted(pausedUntilMs, nowMs);
      }
      return Promise.resolve();
    },
    remainingMs(nowMs) {
      noticeEnd(nowMs);
      return Promise.resolve(Math.max(0, pausedUntilMs - nowMs));
    },
  };
  return gate;
}
