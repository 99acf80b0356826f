// The process-wide pause (SPEC "Rate-limit-aware retries"): one upstream Retry-After holds back every call.

export interface PauseGate {
  /** Extends the pause to `untilMs` (never shortens it). */
  pauseUntil(untilMs: number): void;
  /** Milliseconds left on the pause at `nowMs` (0 when calls may go). */
  remainingMs(nowMs: number): number;
}

export function createPauseGate(): PauseGate {
  let pausedUntilMs = 0;
  return {
    pauseUntil(untilMs) {
      pausedUntilMs = Math.max(pausedUntilMs, untilMs);
    },
    remainingMs(nowMs) {
      return Math.max(0, pausedUntilMs - nowMs);
    },
  };
}
