// Coalesces identical in-flight upstream calls over the page store (SPEC "Caching and coalescing").
import { Problem } from '../problem.js';
import type { FetchPageRequest } from '../upstream/ntropy-client.js';
import { quietEvents, type UpstreamEvents } from '../upstream/upstream-events.js';
import {
  lastResponseOf,
  newTrace,
  type UpstreamPage,
  type UpstreamTrace,
} from '../upstream/upstream-page.js';
import type { PageStore } from './page-store.js';

export interface CallResult {
  page: UpstreamPage;
  /** Whether the page was stored in the cache. */
  isStored: boolean;
  /** Set when the page was found fresh in a cache shared by replicas: a hit, with this much freshness left. */
  hitTtlLeftMs?: number;
}

export interface JoinedCall {
  /** This request joined another request's upstream call. */
  isCollapsed: boolean;
  /** The upstream call's trace, shared by every waiter of that call. */
  trace: UpstreamTrace;
  result: Promise<CallResult>;
}

export interface Waiter {
  requestId: string;
  deadlineAtMs: number;
  /** Aborts when this waiter's client has gone. */
  signal: AbortSignal;
}

/** The upstream call for one key, as the shared call sees it (everything but the query). */
export type FlightCall = Omit<FetchPageRequest, 'queryString'>;
export type LoadPage = (key: string, call: FlightCall) => Promise<UpstreamPage>;

/** One in-process call, as seen by state shared with other replicas. */
export interface SharedFlight {
  key: string;
  call: FlightCall;
  /** This process's own upstream call, storing the page it gets. */
  callHere(call: FlightCall): Promise<CallResult>;
  /** The call waits on another replica's: its requests are answered as collapsed. */
  markCollapsed(): void;
}

/** Runs a call through state shared by replicas (REDIS_URL): a page they stored, their call, or `callHere`. */
export type ShareFlight = (flight: SharedFlight) => Promise<CallResult>;

export interface PageCacheOptions {
  store: PageStore;
  load: LoadPage;
  share?: ShareFlight;
  events?: Pick<UpstreamEvents, 'waitingRequests'>;
  now?: () => number;
}

interface Member {
  deadlineAtMs: number;
  /** Stops waiting with `reason`; the call is cancelled when it was the last member. */
  leave(reason: Error): void;
}

interface Flight {
  key: string;
  controller: AbortController;
  trace: UpstreamTrace;
  members: Set<Member>;
  settled: Promise<CallResult>;
  settle: (result: Promise<CallResult>) => void;
  /** The wait the call is in (a backoff or a pause), and the answer for those who cannot wait so long. */
  wait: { untilMs: number; problem: Problem } | undefined;
  isCollapsedElsewhere: boolean;
}

// Not lru-cache's fetch(): it ties the shared load to the first caller's abort signal and options,
// and with nothing stored (CACHE_TTL_MS=0) it cannot coalesce. A small map of calls, each with its
// members, lets every waiter keep its own deadline and leave on its own; the call runs until the
// latest live deadline and is cancelled only when its last member has gone.
export function createPageCache(options: PageCacheOptions) {
  const { store, load, share } = options;
  const events = options.events ?? quietEvents;
  const now = options.now ?? Date.now;
  const inFlight = new Map<string, Flight>();

  function newFlight(key: string): Flight {
    let settle: Flight['settle'] = () => undefined;
    const settled = new Promise<CallResult>((resolve) => (settle = resolve));
    const flight: Flight = {
      key,
      controller: new AbortController(),
      trace: newTrace(),
      members: new Set(),
      settled,
      settle,
      wait: undefined,
      isCollapsedElsewhere: false,
    };
    // Failures reach every member and are never stored; the next request goes upstream again.
    const forget = () => forgetFlight(flight);
    settled.then(forget, forget);
    return flight;
  }

  function forgetFlight(flight: Flight): void {
    if (inFlight.get(flight.key) === flight) inFlight.delete(flight.key);
  }

  function startCall(flight: Flight, requestId: string): void {
    const call: FlightCall = {
      requestId,
      signal: flight.controller.signal,
      trace: flight.trace,
      deadlineAtMs: () => Math.max(0, ...[...flight.members].map((member) => member.deadlineAtMs)),
      releaseBefore(untilMs, problem) {
        flight.wait = { untilMs, problem };
        for (const member of flight.members) if (member.deadlineAtMs <= untilMs) member.leave(problem);
      },
      hasFallback: async () => (await store.getKept(flight.key)) !== undefined,
    };
    const callHere = (here: FlightCall) =>
      load(flight.key, here).then(async (page) => ({ page, isStored: await store.set(flight.key, page) }));
    const markCollapsed = () => (flight.isCollapsedElsewhere = true);
    flight.settle(share ? share({ key: flight.key, call, callHere, markCollapsed }) : callHere(call));
  }

  function awaitFlight(flight: Flight, waiter: Waiter): Promise<CallResult> {
    return new Promise((resolve, reject) => {
      const wait = flight.wait;
      // Joining a call that is waiting past this deadline: answer now with the row it would give.
      if (wait !== undefined && now() < wait.untilMs && waiter.deadlineAtMs <= wait.untilMs) {
        reject(wait.problem);
        return;
      }
      const onAbort = () => member.leave(asError(waiter.signal.reason));
      const timer = setTimeout(
        () =>
          member.leave(
            new Problem('upstream_timeout', 'The request deadline ran out', {
              ...lastResponseOf(flight.trace),
              reason: 'deadline',
            }),
          ),
        Math.max(0, waiter.deadlineAtMs - now()),
      );
      const stop = (): boolean => {
        if (!flight.members.delete(member)) return false;
        clearTimeout(timer);
        waiter.signal.removeEventListener('abort', onAbort);
        events.waitingRequests(-1);
        return true;
      };
      const member: Member = {
        deadlineAtMs: waiter.deadlineAtMs,
        leave(reason) {
          if (!stop()) return;
          if (flight.members.size === 0) {
            // Nobody waits any more: cancel the call, and let the next request start afresh.
            forgetFlight(flight);
            flight.controller.abort(reason);
          }
          reject(reason);
        },
      };
      flight.members.add(member);
      events.waitingRequests(1);
      waiter.signal.addEventListener('abort', onAbort, { once: true });
      flight.settled.then(
        (result) => stop() && resolve(result),
        (error: unknown) => stop() && reject(asError(error)),
      );
    });
  }

  return {
    /** A fresh stored page, or undefined (the hit path: synchronous). */
    getFresh: (key: string) => store.getFresh(key),
    /** The page kept for `key`, fresh or stale, to answer instead of an upstream error. */
    getKept: (key: string) => store.getKept(key),
    /** Joins the upstream call in flight for this key, or starts one. */
    join(key: string, waiter: Waiter): JoinedCall {
      if (waiter.signal.aborted) {
        return {
          isCollapsed: false,
          trace: newTrace(),
          result: Promise.reject(asError(waiter.signal.reason)),
        };
      }
      const joined = inFlight.get(key);
      const flight = joined ?? newFlight(key);
      if (joined === undefined) inFlight.set(key, flight);
      const result = awaitFlight(flight, waiter);
      if (joined === undefined) startCall(flight, waiter.requestId);
      return {
        // Read once the result is in: the call may turn out to wait on another replica's.
        get isCollapsed() {
          return joined !== undefined || flight.isCollapsedElsewhere;
        },
        trace: flight.trace,
        result,
      };
    },
  };
}

export type PageCache = ReturnType<typeof createPageCache>;

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}
