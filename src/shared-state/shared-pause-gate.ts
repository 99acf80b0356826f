// The Retry-After pause across replicas (SPEC "Replicas and shared state"): one key, only ever extended, mirrored locally.
import type { PauseGate } from '../upstream/pause-gate.js';
import type { RedisConnection } from './redis-connection.js';
import { defineScript } from './redis-script.js';

/**
 * How long the key outlives the pause it holds. Each replica judges the end by the instant stored in it
 * (its own clock), so the key's expiry only frees memory: the margin keeps a small clock difference
 * between replicas from dropping a pause early.
 */
export const PAUSE_KEY_MARGIN_MS = 60_000;

/** Sets the pause end to ARGV[1] unless a later one is stored (the later of two wins); returns the end that stands. */
const EXTEND_PAUSE = defineScript(`
local current = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local untilMs = tonumber(ARGV[1])
if untilMs > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
return tostring(current)
`);

export interface SharedPauseGateOptions {
  /** This process's own gate: it logs the pause once here, and carries on alone while Redis cannot answer. */
  local: PauseGate;
  connection: RedisConnection;
  /** `<REDIS_KEY_PREFIX>pause`. */
  key: string;
}

/**
 * A 429's Retry-After seen by any replica pauses all of them until the same instant. The pause end is
 * read from Redis before every upstream attempt and taken on locally (with the local gate's warn line
 * the first time this replica sees it), so the key's holder need not tell anyone. The key holds the
 * end as epoch milliseconds; a pause this replica knows but Redis lost (a restart, an outage) is written back.
 */
export function createSharedPauseGate(options: SharedPauseGateOptions): PauseGate {
  const { local, connection, key } = options;

  async function extendShared(untilMs: number, nowMs: number): Promise<number | undefined> {
    const lifeMs = String(Math.ceil(untilMs - nowMs) + PAUSE_KEY_MARGIN_MS);
    const stands = await connection
      .run((send) => EXTEND_PAUSE(send, [key], [String(untilMs), lifeMs]))
      .catch(() => undefined);
    return stands === undefined ? undefined : Number(stands);
  }

  return {
    async pauseUntil(untilMs, nowMs) {
      await local.pauseUntil(untilMs, nowMs);
      const stands = await extendShared(untilMs, nowMs);
      if (stands !== undefined && stands > untilMs) await local.pauseUntil(stands, nowMs);
    },
    async remainingMs(nowMs) {
      const stored = await connection.run((send) => send(['GET', key])).catch(() => undefined);
      if (stored === undefined) return local.remainingMs(nowMs);
      const sharedUntilMs = Number(stored ?? 0) || 0;
      if (sharedUntilMs > nowMs) await local.pauseUntil(sharedUntilMs, nowMs);
      const remainingMs = await local.remainingMs(nowMs);
      if (remainingMs > 0 && nowMs + remainingMs > sharedUntilMs)
        await extendShared(nowMs + remainingMs, nowMs);
      return remainingMs;
    },
  };
}
