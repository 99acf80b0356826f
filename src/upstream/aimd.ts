// The adaptive upstream concurrency limit as a pure step (SPEC "Rate-limit-aware retries", AIMD).

export interface AimdState {
  limit: number;
  /** Successful calls since the limit last moved. */
  successes: number;
}

/** A 429 is Ntropy's rate-limit signal; 502/503/504 are transient network errors and move nothing. */
export type AimdSignal = 'success' | 'rate_limited';

export function initialAimd(maxLimit: number): AimdState {
  return { limit: maxLimit, successes: 0 };
}

/** Halves the limit on a 429 (not below 1); raises it by one per limit's worth of successes (up to the maximum). */
export function stepAimd(state: AimdState, signal: AimdSignal, maxLimit: number): AimdState {
  if (signal === 'rate_limited') return { limit: Math.max(1, Math.floor(state.limit / 2)), successes: 0 };
  const successes = state.successes + 1;
  if (successes < state.limit) return { limit: state.limit, successes };
  return { limit: Math.min(maxLimit, state.limit + 1), successes: 0 };
}
