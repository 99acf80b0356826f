// The quota hold's decisions as pure functions (SPEC "Rate-limit-aware retries", quota hold): may this call go, probe, or wait?

export interface QuotaHoldState {
  /** Upstream is not called before this instant (probes aside). */
  heldUntilMs: number;
  /** The last probe (or the answer that started the hold): the next may go one interval later. */
  lastProbeAtMs: number;
}

export type QuotaAdmission =
  | { action: 'call' }
  /** This call is the one probe of its interval. */
  | { action: 'probe' }
  /** Refused; the next probe (or the end of the hold) is this far away. */
  | { action: 'refuse'; retryAfterMs: number };

export interface QuotaSettings {
  holdMs: number;
  probeIntervalMs: number;
}

/** A 423 or a 429 without Retry-After at `nowMs` starts the hold, or renews it. */
export function startHold(nowMs: number, settings: QuotaSettings): QuotaHoldState {
  return { heldUntilMs: nowMs + settings.holdMs, lastProbeAtMs: nowMs };
}

export function isHeld(state: QuotaHoldState | undefined, nowMs: number): state is QuotaHoldState {
  return state !== undefined && nowMs < state.heldUntilMs;
}

/** "May I call now?": freely when no hold is on; as the probe once an interval has passed; else refused. */
export function admitCall(
  state: QuotaHoldState | undefined,
  nowMs: number,
  settings: QuotaSettings,
): QuotaAdmission {
  if (!isHeld(state, nowMs)) return { action: 'call' };
  const nextProbeAtMs = state.lastProbeAtMs + settings.probeIntervalMs;
  if (nowMs >= nextProbeAtMs) return { action: 'probe' };
  return { action: 'refuse', retryAfterMs: Math.min(nextProbeAtMs, state.heldUntilMs) - nowMs };
}
