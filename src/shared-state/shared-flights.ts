// Coalescing across replicas (SPEC "Replicas and shared state"): a page another stored, or one upstream call under a Redis lock.
import { randomUUID } from 'node:crypto';
import type { CallResult, ShareFlight, SharedFlight } from '../batches/page-cache.js';
import { Problem } from '../problem.js';
import { createFlightKeys } from './flight-keys.js';
import { createFlightNotices } from './flight-notices.js';
import { nextFollowStep, rebuildProblem, shareProblem, type FlightOutcome } from './flight-outcome.js';
import type { RedisConnection } from './redis-connection.js';
import type { SharedPageStore } from './shared-page-store.js';

/** How often a waiting replica looks at the lock and outcome, besides being told (pub/sub may drop messages). */
const FLIGHT_POLL_MS = 200;

export interface SharedFlightsOptions {
  connection: RedisConnection;
  pages: SharedPageStore;
  /** REDIS_KEY_PREFIX. */
  keyPrefix: string;
  /** How long a lock outlives its owner's last renewal: how long a vanished owner holds the others back. */
  leaseMs: number;
  now: () => number;
}

/**
 * The in-process coalescing stays in front (one flight per query per replica); each flight here first
 * looks for a fresh page another replica stored (a hit), else claims the query's lock (`SET NX PX`).
 * The owner calls upstream, stores the page and announces the outcome (pub/sub plus a short-lived key);
 * the others wait for it within their own deadlines, woken by the notice or by polling. The lock is a
 * lease renewed while the owner's call runs, so a lock whose owner died, or one left by a command that
 * timed out, frees the others within `leaseMs`; they then call upstream themselves (one claims the lock,
 * the rest wait on it). An owner's failure is shared with its waiters rather than retried by each of
 * them. Whenever Redis cannot answer, the flight calls upstream from this replica, as without Redis.
 */
export function createSharedFlights(options: SharedFlightsOptions): ShareFlight {
  const { connection, pages, leaseMs, now } = options;
  const keys = createFlightKeys(options);
  const notices = createFlightNotices();
  connection.subscribe(keys.channel, (query) => notices.notify(query));

  /** Calls upstream as the lock's owner; `isClaimUnknown`: the claim's answer never came, so maybe not. */
  async function lead(flight: SharedFlight, owner: string, isClaimUnknown = false): Promise<CallResult> {
    const { key, call } = flight;
    // An owner that is not sure it holds the lock announces only if it does (the others follow the holder).
    const announce = (outcome: FlightOutcome, lifeMs: number, isFinal: boolean) =>
      keys.announce(key, outcome, lifeMs, { isFinal, isHolderOnly: isClaimUnknown });
    const renewal = setInterval(() => void keys.renew(key, owner), leaseMs / 4);
    renewal.unref();
    try {
      const result = await flight.callHere({
        ...call,
        // The waiters on other replicas whose deadline comes before this wait ends answer now too.
        releaseBefore(untilMs, problem) {
          call.releaseBefore?.(untilMs, problem);
          const waiting = { owner, kind: 'waiting' as const, untilMs, problem: shareProblem(problem, now()) };
          void announce(waiting, untilMs - now() + leaseMs, false);
        },
      });
      const { page, isStored } = result;
      // Not awaited: this replica's requests have their page; the announcement is for the others.
      void announce({ owner, kind: 'page', page, isStored }, leaseMs, true);
      return result;
    } catch (error) {
      // Nobody waits any more, or the owner's own deadline ran out: the others may still have time.
      const isShared = error instanceof Problem && !call.signal.aborted && error.reason !== 'deadline';
      const outcome: FlightOutcome = isShared
        ? { owner, kind: 'failed', problem: shareProblem(error, now()) }
        : { owner, kind: 'released' };
      void announce(outcome, leaseMs, true);
      throw error;
    } finally {
      clearInterval(renewal);
    }
  }

  /** Waits on `owner`'s call: its result, 'take_over' when the owner vanished, undefined when Redis cannot answer. */
  async function follow(flight: SharedFlight, owner: string): Promise<CallResult | 'take_over' | undefined> {
    const { key, call } = flight;
    const notice = notices.listen(key);
    let releasedUntilMs = 0;
    try {
      for (;;) {
        call.signal.throwIfAborted();
        const seen = await keys.look(key);
        if (seen === undefined) return undefined;
        const step = nextFollowStep(seen.lock, seen.outcome, owner);
        if (step.action === 'take_over') return 'take_over';
        if (step.action === 'follow') owner = step.owner;
        if (step.action === 'release_before' && step.untilMs !== releasedUntilMs) {
          releasedUntilMs = step.untilMs;
          call.releaseBefore?.(step.untilMs, rebuildProblem(step.problem, now()));
        }
        if (step.action === 'answer') {
          flight.markCollapsed();
          const { outcome } = step;
          if (outcome.kind === 'failed') {
            call.trace.lastStatus = outcome.problem.upstreamStatus;
            call.trace.lastRequestId = outcome.problem.upstreamRequestId;
            throw rebuildProblem(outcome.problem, now());
          }
          call.trace.lastStatus = 200;
          call.trace.lastRequestId = outcome.page.upstreamRequestId;
          return { page: outcome.page, isStored: outcome.isStored };
        }
        await notice.next(FLIGHT_POLL_MS, call.signal);
      }
    } finally {
      notice.close();
    }
  }

  return async function share(flight) {
    const { key, call } = flight;
    for (;;) {
      call.signal.throwIfAborted();
      const owner = randomUUID();
      const claim = await keys.lookOrClaim(key, owner);
      if (claim === undefined) return flight.callHere(call);
      if (claim.kind === 'mine') return lead(flight, owner);
      // Redis may have taken the claim after all: if it did, the others must not wait out the lease.
      if (claim.kind === 'unknown') return lead(flight, owner, true);
      if (claim.kind === 'page') {
        const { entry } = claim;
        pages.keepLocally(key, entry);
        call.trace.lastRequestId = entry.page.upstreamRequestId;
        return { page: entry.page, isStored: true, hitTtlLeftMs: Math.max(0, entry.freshUntilMs - now()) };
      }
      const followed = await follow(flight, claim.owner);
      if (followed === undefined) return flight.callHere(call);
      if (followed !== 'take_over') return followed;
    }
  };
}
