// The quota hold (SPEC "Rate-limit-aware retries"): after a 423 or a bare 429, one probe per interval and no other call.
import {
  admitCall,
  isHeld,
  startHold,
  type QuotaAdmission,
  type QuotaHoldState,
  type QuotaSettings,
} from './quota-policy.js';
import { quietEvents, type UpstreamEvents } from './upstream-events.js';

/** The hold as the upstream call sees it; async so that a shared implementation fits behind it. */
export interface QuotaHold {
  /** Admits a call; when it answers 'probe', the probe of this interval is taken. */
  admit(nowMs: number): Promise<QuotaAdmission>;
  /** A 423 or a bare 429 arrived: starts or renews the hold; resolves to the ms until the next probe. */
  hold(nowMs: number): Promise<number>;
  /** A probe got a page: the hold is over. */
  lift(nowMs: number): Promise<void>;
}

/** This process's own hold, and what a shared hold needs of it: to take on the state other replicas left. */
export interface LocalQuotaHold extends QuotaHold {
  /** Takes on `shared` (undefined: no hold), with the events of a hold that starts, is renewed or ends here. */
  adopt(shared: QuotaHoldState | undefined, nowMs: number): void;
}

type HoldEvents = Pick<UpstreamEvents, 'quotaHoldStarted' | 'quotaHoldEnded' | 'quotaProbe'>;

export function createLocalQuotaHold(
  settings: QuotaSettings,
  events: HoldEvents = quietEvents,
): LocalQuotaHold {
  let state: QuotaHoldState | undefined;
  // Like the pause, the end of a hold that ran out is noticed by the next call that asks.
  function noticeExpiry(nowMs: number): void {
    if (state !== undefined && !isHeld(state, nowMs)) {
      state = undefined;
      events.quotaHoldEnded('expired');
    }
  }
  return {
    admit(nowMs) {
      noticeExpiry(nowMs);
      const admission = admitCall(state, nowMs, settings);
      if (admission.action === 'probe' && state !== undefined) {
        state = { ...state, lastProbeAtMs: nowMs };
        events.quotaProbe();
      }
      return Promise.resolve(admission);
    },
    hold(nowMs) {
      noticeExpiry(nowMs);
      const isRenewal = state !== undefined;
      state = startHold(nowMs, settings);
      events.quotaHoldStarted(state.heldUntilMs, nowMs, isRenewal);
      const admission = admitCall(state, nowMs, settings);
      return Promise.resolve(admission.action === 'refuse' ? admission.retryAfterMs : 0);
    },
    lift(nowMs) {
      noticeExpiry(nowMs);
      if (state !== undefined) {
        state = undefined;
        events.quotaHoldEnded('probe_succeeded');
      }
      return Promise.resolve();
    },
    adopt(shared, nowMs) {
      noticeExpiry(nowMs);
      if (!isHeld(shared, nowMs)) {
        if (state !== undefined) events.quotaHoldEnded('lifted_elsewhere');
        state = undefined;
        return;
      }
      if (state === undefined || shared.heldUntilMs > state.heldUntilMs) {
        events.quotaHoldStarted(shared.heldUntilMs, nowMs, state !== undefined);
      }
      // The later end and the later probe of the two: what either side learnt stands.
      state = {
        heldUntilMs: Math.max(shared.heldUntilMs, state?.heldUntilMs ?? 0),
        lastProbeAtMs: Math.max(shared.lastProbeAtMs, state?.lastProbeAtMs ?? 0),
      };
    },
  };
}
