// With REDIS_URL: puts this process's pause, quota hold and pages behind their shared versions, and coalesces across replicas.
import type { ShareFlight } from '../batches/page-cache.js';
import type { LocalPageStore, PageStore } from '../batches/page-store.js';
import type { PauseGate } from '../upstream/pause-gate.js';
import type { LocalQuotaHold, QuotaHold } from '../upstream/quota-hold.js';
import type { QuotaSettings } from '../upstream/quota-policy.js';
import type { RedisConnection } from './redis-connection.js';
import { createSharedFlights } from './shared-flights.js';
import { createSharedPageStore } from './shared-page-store.js';
import { createSharedPauseGate } from './shared-pause-gate.js';
import { createSharedQuotaHold } from './shared-quota-hold.js';

export interface UpstreamState<Gate, Quota, Pages> {
  gate: Gate;
  quota: Quota;
  pages: Pages;
}

export interface ShareOptions {
  connection: RedisConnection;
  keyPrefix: string;
  /** REDIS_TIMEOUT_MS: a lock's lease must outlast a few renewals that take this long. */
  timeoutMs: number;
  cache: { ttlMs: number; staleIfErrorMs: number };
  quota: QuotaSettings;
  now: () => number;
}

/** How long a lock outlives its owner's last renewal: at least 2 s, and four Redis timeouts. */
function flightLeaseMs(timeoutMs: number): number {
  return Math.max(2000, 4 * timeoutMs);
}

/**
 * SPEC "Replicas and shared state". Every key is `REDIS_KEY_PREFIX` + `pause`, `quota`, `page:<query>`,
 * `lock:<query>` or `outcome:<query>` (and `limit:<sub>`, see shared-limit-store.ts); the notices go
 * on the channel `REDIS_KEY_PREFIX` + `flights`. Each shared part keeps the local one in front of
 * Redis or beside it, and falls back to it on its own whenever Redis cannot answer.
 */
export function shareAcrossReplicas(
  local: UpstreamState<PauseGate, LocalQuotaHold, LocalPageStore>,
  options: ShareOptions,
): UpstreamState<PauseGate, QuotaHold, PageStore> & { share: ShareFlight } {
  const { connection, keyPrefix, now } = options;
  const pages = createSharedPageStore({
    local: local.pages,
    connection,
    keyPrefix,
    ...options.cache,
    now,
  });
  return {
    gate: createSharedPauseGate({ local: local.gate, connection, key: `${keyPrefix}pause` }),
    quota: createSharedQuotaHold({
      local: local.quota,
      connection,
      key: `${keyPrefix}quota`,
      settings: options.quota,
    }),
    pages,
    share: createSharedFlights({
      connection,
      pages,
      keyPrefix,
      leaseMs: flightLeaseMs(options.timeoutMs),
      now,
    }),
  };
}
