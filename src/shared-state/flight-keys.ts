// One query's flight in Redis: look for a fresh page or claim the lock, renew it, announce the outcome, read both.
import { decodeOutcome, encodeOutcome, type FlightOutcome } from './flight-outcome.js';
import { decodePageEntry, type PageEntry } from './page-entry.js';
import { describeRedisError, type RedisConnection } from './redis-connection.js';
import { defineScript } from './redis-script.js';
import { pageKey } from './shared-page-store.js';

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

/**
 * Writes the outcome and tells the waiters; frees the lock if this owner holds it (ARGV[6] = '1'); and
 * writes nothing unless it holds it (ARGV[7] = '1', for an owner whose claim's answer never came).
 */
const ANNOUNCE = defineScript(`
local isHolder = redis.call('GET', KEYS[1]) == ARGV[1]
if ARGV[7] == '1' and not isHolder then return 0 end
if ARGV[6] == '1' and isHolder then redis.call('DEL', KEYS[1]) end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
`);

const RENEW = defineScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`);

/** Renewals and announcements: nobody waits for them, and other replicas depend on them. */
const BACKGROUND = { isBackground: true };
const UNKNOWN = Symbol('unknown');

export type Claim =
  /** A fresh page another replica stored: a hit. */
  | { kind: 'page'; entry: PageEntry }
  /** This flight holds the lock: it calls upstream. */
  | { kind: 'mine' }
  /** Another flight holds it: wait for its outcome. */
  | { kind: 'owner'; owner: string }
  /** The claim's answer never came (a timeout): Redis may have run it, so this flight may hold the lock. */
  | { kind: 'unknown' };

export interface FlightKeysOptions {
  connection: RedisConnection;
  /** REDIS_KEY_PREFIX. */
  keyPrefix: string;
  leaseMs: number;
  now: () => number;
}

/** Every call resolves to undefined (or does nothing) when Redis cannot answer: the flight then goes on alone. */
export function createFlightKeys(options: FlightKeysOptions) {
  const { connection, keyPrefix, leaseMs, now } = options;
  /** Where notices go: the message is the query whose outcome was announced. */
  const channel = `${keyPrefix}flights`;
  const lockKey = (query: string) => `${keyPrefix}lock:${query}`;
  const outcomeKey = (query: string) => `${keyPrefix}outcome:${query}`;

  return {
    channel,
    async lookOrClaim(query: string, owner: string): Promise<Claim | undefined> {
      const keys = [pageKey(keyPrefix, query), lockKey(query)];
      const reply = await connection
        .run((send) =>
          LOOK_OR_CLAIM(send, keys, [String(now()), owner, String(leaseMs)], { asBuffers: true }),
        )
        .catch((error: unknown) => (describeRedisError(error) === 'timeout' ? UNKNOWN : undefined));
      if (reply === UNKNOWN) return { kind: 'unknown' };
      if (!Array.isArray(reply)) return undefined;
      const [kind, value] = reply as unknown[];
      switch (String(kind)) {
        case 'page': {
          // A value this version cannot read is no page: the flight then calls upstream, as without Redis.
          const entry = decodePageEntry(value);
          return entry && { kind: 'page', entry };
        }
        case 'mine':
          return { kind: 'mine' };
        case 'owner':
          return Buffer.isBuffer(value) ? { kind: 'owner', owner: value.toString() } : undefined;
        default:
          return undefined;
      }
    },
    async renew(query: string, owner: string): Promise<void> {
      await connection
        .run((send) => RENEW(send, [lockKey(query)], [owner, String(leaseMs)]), BACKGROUND)
        .catch(() => {});
    },
    /**
     * Writes `outcome` for `lifeMs` and publishes a notice; `isFinal` frees the owner's lock, and
     * `isHolderOnly` writes nothing unless the owner holds it.
     */
    async announce(
      query: string,
      outcome: FlightOutcome,
      lifeMs: number,
      flags: { isFinal: boolean; isHolderOnly: boolean },
    ): Promise<void> {
      const keys = [lockKey(query), outcomeKey(query)];
      const life = String(Math.max(1, Math.ceil(lifeMs)));
      const [isFinal, isHolderOnly] = [flags.isFinal ? '1' : '0', flags.isHolderOnly ? '1' : '0'];
      const args = [outcome.owner, encodeOutcome(outcome), life, channel, query, isFinal, isHolderOnly];
      await connection.run((send) => ANNOUNCE(send, keys, args), BACKGROUND).catch(() => {});
    },
    /** The lock's holder and the last outcome written; undefined when Redis cannot answer. */
    async look(query: string) {
      const replies = await connection
        .run((send) =>
          Promise.all([send(['GET', lockKey(query)]), send(['GET', outcomeKey(query)], { asBuffers: true })]),
        )
        .catch(() => undefined);
      if (replies === undefined) return undefined;
      const [lock, outcome] = replies;
      return { lock: typeof lock === 'string' ? lock : undefined, outcome: decodeOutcome(outcome) };
    },
  };
}
