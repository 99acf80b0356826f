// What the upstream path reports as it goes (metrics and log lines listen), and how several listeners are joined.

/** A call that ended in an upstream-caused error after its attempts (reported once per call, not per waiter). */
export interface CallFailure {
  requestId: string;
  code: string;
  reason: string | undefined;
  attempts: number;
  upstreamStatus: number | undefined;
  upstreamRequestId: string | undefined;
}

export interface UpstreamEvents {
  /** An attempt ended: its HTTP status, or timeout, unreachable, too_large, cancelled. */
  attempt(outcome: string): void;
  retry(): void;
  /** A call waits for the Retry-After pause to pass. */
  pauseWait(waitMs: number): void;
  callFailed(failure: CallFailure): void;
  pauseStarted(untilMs: number, nowMs: number): void;
  pauseEnded(): void;
  /** A 423 or a 429 without Retry-After started (or, `isRenewal`, renewed) the quota hold. */
  quotaHoldStarted(untilMs: number, nowMs: number, isRenewal: boolean): void;
  /** `lifted_elsewhere`: another replica's probe got a page (shared state no longer holds). */
  quotaHoldEnded(reason: 'probe_succeeded' | 'expired' | 'lifted_elsewhere'): void;
  quotaProbe(): void;
  concurrencyLimit(limit: number): void;
  queueLength(length: number): void;
  /** Requests waiting on an upstream call, their own or one they joined. */
  waitingRequests(delta: number): void;
}

export type UpstreamListener = Partial<UpstreamEvents>;

/** One UpstreamEvents that tells every listener that has a handler for the event. */
export function combineListeners(...listeners: UpstreamListener[]): UpstreamEvents {
  function fanOut<K extends keyof UpstreamEvents>(name: K): UpstreamEvents[K] {
    type Handler = (...args: Parameters<UpstreamEvents[K]>) => void;
    const handlers = listeners.flatMap((listener) => (listener[name] === undefined ? [] : [listener[name]]));
    return ((...args: Parameters<UpstreamEvents[K]>) => {
      for (const handler of handlers as Handler[]) handler(...args);
    }) as UpstreamEvents[K];
  }
  return {
    attempt: fanOut('attempt'),
    retry: fanOut('retry'),
    pauseWait: fanOut('pauseWait'),
    callFailed: fanOut('callFailed'),
    pauseStarted: fanOut('pauseStarted'),
    pauseEnded: fanOut('pauseEnded'),
    quotaHoldStarted: fanOut('quotaHoldStarted'),
    quotaHoldEnded: fanOut('quotaHoldEnded'),
    quotaProbe: fanOut('quotaProbe'),
    concurrencyLimit: fanOut('concurrencyLimit'),
    queueLength: fanOut('queueLength'),
    waitingRequests: fanOut('waitingRequests'),
  };
}

/** Listens to nothing: for collaborators built without listeners (tests of one mechanism). */
export const quietEvents: UpstreamEvents = combineListeners();
