// Coalescing across replicas (SPEC "Replicas and shared state"): a page another stored, or one upstream call under a Redis lock.
import { randomUUID } from 'node:crypto';
import type { CallResult, ShareFlight, SharedFlight } from '../batches/page-cache.js';
import { Problem } from '../problem.js';
import {
  decodeOutcome,
  encodeOutcome,
  nextFollowStep,
  rebuildProblem,
  shareProblem,
  type FlightOutcome,
} from './flight-outcome.js';
import { decodePageEntry } from './page-entry.js';
import type { RedisConnection } from './redis-connection.js';
import { defineScript } from './redis-script.js';
import { createFlightNotices } from './flight-notices.js';
import { pageKey, type SharedPageStore } from './shared-page-store.js';

/** How often a waiting replica looks at the lock and outcome, besides being told (pub/sub may drop messages). */
export const FLIGHT_POLL_MS = 200;

/**
 * A fresh shared page, or the lock: one round trip, and atomic, so a page stored between a look and a
 * claim cannot cause a second upstream call. The entry's header starts with its `fresh_until_ms`.
 */
const LOOK_OR_CLAIM = defineScript(`
local entry = redis.call('GET', KEYS[1])
if entry then
  local freshUntil = tonumber(string.match(entry, '^{"fresh_until_ms":(%d+)'))
  if freshUntil and freshUntil > tonumber(ARGV[1]) then return {'page', entry} end
end
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then return {'mine'} end
return {'owner', redis.call('GET', KEYS[2])}
`);

/** Writes the outcome, tells the waiters, and (ARGV[6] = '1') frees the lock if this owner still holds it. */
const ANNOUNCE = defineScript(`
if ARGV[6] == '1' and redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
`);

const RENEW = defineScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`);

export interface SharedFlightsOptions {
  connection: RedisConnection;
  pages: SharedPageStore;
  /** REDIS_KEY_PREFIX. */
  keyPrefix: string;
  /** How long a lock outlives its owner's last renewal: how long a vanished owner holds the others back. */
  leaseMs: number;
  now: () => number;
}

type Claim = { kind: 'page'; entry: Buffer } | { kind: 'mine' } | { kind: 'owner'; owner: string };

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
  const { connection, pages, keyPrefix, leaseMs, now } = options;
  const channel = `${keyPrefix}flights`;
  const notices = createFlightNotices();
  connection.subscribe(channel, (query) => notices.notify(query));
  const keysOf = (key: string) => ({
    page: pageKey(keyPrefix, key),
    lock: `${keyPrefix}lock:${key}`,
    outcome: `${keyPrefix}outcome:${key}`,
  });

  async function lookOrClaim(key: string, owner: string): Promise<Claim | undefined> {
    const keys = keysOf(key);
    const reply = await connection
      .run((send) =>
        LOOK_OR_CLAIM(send, [keys.page, keys.lock], [String(now()), owner, String(leaseMs)], {
          asBuffers: true,
        }),
      )
      .catch(() => undefined);
    if (!Array.isArray(reply)) return undefined;
    const [kind, value] = reply as unknown[];
    switch (String(kind)) {
      case 'page':
        return Buffer.isBuffer(value) ? { kind: 'page', entry: value } : undefined;
      case 'mine':
        return { kind: 'mine' };
      case 'owner':
        return Buffer.isBuffer(value) ? { kind: 'owner', owner: value.toString() } : undefined;
      default:
        return undefined;
    }
  }

  function announce(key: string, outcome: FlightOutcome, lifeMs: number, isFinal: boolean): Promise<unknown> {
    const keys = keysOf(key);
    const args = [
      outcome.owner,
      encodeOutcome(outcome),
      String(Math.ceil(lifeMs)),
      channel,
      key,
      isFinal ? '1' : '0',
    ];
    return connection.run((send) => ANNOUNCE(send, [keys.lock, keys.outcome], args)).catch(() => {});
  }

  async function lead(flight: SharedFlight, owner: string): Promise<CallResult> {
    const { key, call } = flight;
    const renewal = setInterval(() => {
      void connection
        .run((send) => RENEW(send, [keysOf(key).lock], [owner, String(leaseMs)]))
        .catch(() => {});
    }, leaseMs / 4);
    renewal.unref();
    try {
      const result = await flight.callHere({
        ...call,
        // The waiters on other replicas whose deadline comes before this wait ends answer now too.
        releaseBefore(untilMs, problem) {
          call.releaseBefore?.(untilMs, problem);
          const waiting = { owner, kind: 'waiting' as const, untilMs, problem: shareProblem(problem, now()) };
          void announce(key, waiting, untilMs - now() + leaseMs, false);
        },
      });
      await announce(
        key,
        { owner, kind: 'page', page: result.page, isStored: result.isStored },
        leaseMs,
        true,
      );
      return result;
    } catch (error) {
      // Nobody waits any more, or the owner's own deadline ran out: the others may still have time.
      const isShared = error instanceof Problem && !call.signal.aborted && error.reason !== 'deadline';
      const outcome: FlightOutcome = isShared
        ? { owner, kind: 'failed', problem: shareProblem(error, now()) }
        : { owner, kind: 'released' };
      await announce(key, outcome, leaseMs, true);
      throw error;
    } finally {
      clearInterval(renewal);
    }
  }

  async function look(
    key: string,
  ): Promise<{ lock: string | undefined; outcome: FlightOutcome | undefined } | undefined> {
    const keys = keysOf(key);
    const replies = await connection
      .run((send) =>
        Promise.all([send(['GET', keys.lock]), send(['GET', keys.outcome], { asBuffers: true })]),
      )
      .catch(() => undefined);
    if (replies === undefined) return undefined;
    const [lock, outcome] = replies;
    return { lock: typeof lock === 'string' ? lock : undefined, outcome: decodeOutcome(outcome) };
  }

  /** Waits on `owner`'s call: its result, 'take_over' when the owner vanished, undefined when Redis cannot answer. */
  async function follow(flight: SharedFlight, owner: string): Promise<CallResult | 'take_over' | undefined> {
    const { key, call } = flight;
    const notice = notices.listen(key);
    let releasedUntilMs = 0;
    try {
      for (;;) {
        call.signal.throwIfAborted();
        const seen = await look(key);
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
      const claim = await lookOrClaim(key, owner);
      if (claim === undefined) return flight.callHere(call);
      if (claim.kind === 'mine') return lead(flight, owner);
      if (claim.kind === 'page') {
        const entry = decodePageEntry(claim.entry);
        if (entry !== undefined) {
          pages.keepLocally(key, entry);
          call.trace.lastRequestId = entry.page.upstreamRequestId;
          return { page: entry.page, isStored: true, hitTtlLeftMs: Math.max(0, entry.freshUntilMs - now()) };
        }
        // A value this version cannot read is not a page: call upstream as without Redis.
        return flight.callHere(call);
      }
      const followed = await follow(flight, claim.owner);
      if (followed === undefined) return flight.callHere(call);
      if (followed !== 'take_over') return followed;
    }
  };
}
