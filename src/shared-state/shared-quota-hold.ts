// The quota hold across replicas (SPEC "Replicas and shared state"): one key, one probe per interval claimed atomically.
import type { LocalQuotaHold, QuotaHold } from '../upstream/quota-hold.js';
import { admitCall, startHold, type QuotaHoldState, type QuotaSettings } from '../upstream/quota-policy.js';
import { PAUSE_KEY_MARGIN_MS } from './shared-pause-gate.js';
import type { RedisConnection } from './redis-connection.js';
import { defineScript } from './redis-script.js';

/** Replaces the state ARGV[1] by ARGV[2] only if it is still ARGV[1]: the probe goes to one replica. */
const CLAIM_PROBE = defineScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
  return 1
end
return 0
`);

/** Stores the hold ARGV[1] unless one that ends later is stored (the later of two wins). */
const START_HOLD = defineScript(`
local current = redis.call('GET', KEYS[1])
local currentUntil = current and tonumber(string.match(current, '^(%d+):'))
if currentUntil and currentUntil >= tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
`);

/** The key's value: `<held until, epoch ms>:<last probe, epoch ms>`. */
export function formatHold(state: QuotaHoldState): string {
  return `${state.heldUntilMs}:${state.lastProbeAtMs}`;
}

/** The state in a stored value; undefined for none, or for a value this version did not write. */
export function parseHold(value: unknown): QuotaHoldState | undefined {
  const match = typeof value === 'string' ? /^([0-9]{1,15}):([0-9]{1,15})$/.exec(value) : null;
  return match === null ? undefined : { heldUntilMs: Number(match[1]), lastProbeAtMs: Number(match[2]) };
}

export interface SharedQuotaHoldOptions {
  /** This process's own hold: it logs here, and decides alone while Redis cannot answer. */
  local: LocalQuotaHold;
  connection: RedisConnection;
  /** `<REDIS_KEY_PREFIX>quota`. */
  key: string;
  settings: QuotaSettings;
}

/**
 * Before each upstream attempt the shared state is read and taken on locally; when it says a probe is
 * due, this replica claims it with a compare-and-set, so only one replica probes per interval. The
 * local hold then answers, as it does alone: Redis only keeps the replicas' holds the same. A 423 is
 * written to Redis before the local hold starts, so that a read in between never sees "no hold" and
 * ends it. The probe policy stays in quota-policy.ts; Redis only keeps the state and the claim.
 */
export function createSharedQuotaHold(options: SharedQuotaHoldOptions): QuotaHold {
  const { local, connection, key, settings } = options;
  const keyLifeMs = (state: QuotaHoldState, nowMs: number) =>
    String(Math.ceil(state.heldUntilMs - nowMs) + PAUSE_KEY_MARGIN_MS);

  return {
    async admit(nowMs) {
      const stored = await connection.run((send) => send(['GET', key])).catch(() => undefined);
      if (stored === undefined) return local.admit(nowMs);
      const shared = parseHold(stored);
      local.adopt(shared, nowMs);
      if (shared !== undefined && admitCall(shared, nowMs, settings).action === 'probe') {
        const probing = { ...shared, lastProbeAtMs: nowMs };
        const claimed = await connection
          .run((send) => CLAIM_PROBE(send, [key], [formatHold(shared), formatHold(probing)]))
          .catch(() => undefined);
        // Another replica took this interval's probe: this one waits for the next.
        if (claimed === 0) local.adopt(probing, nowMs);
      }
      return local.admit(nowMs);
    },
    async hold(nowMs) {
      const state = startHold(nowMs, settings);
      await connection
        .run((send) =>
          START_HOLD(send, [key], [formatHold(state), String(state.heldUntilMs), keyLifeMs(state, nowMs)]),
        )
        .catch(() => {});
      return local.hold(nowMs);
    },
    async lift(nowMs) {
      await connection.run((send) => send(['DEL', key])).catch(() => {});
      await local.lift(nowMs);
    },
  };
}
