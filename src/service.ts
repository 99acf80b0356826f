// Builds the app and its collaborators from one Config; no module-level state, nothing listens here.
import type { Logger } from 'pino';
import { createApp } from './app.js';
import { createPageCache } from './batches/page-cache.js';
import { createLocalPageStore } from './batches/page-store.js';
import type { Config } from './config.js';
import { createTokenVerifier } from './http/token-verifier.js';
import { createMetrics } from './metrics.js';
import { createRedisConnection } from './shared-state/redis-connection.js';
import { shareAcrossReplicas } from './shared-state/share-across-replicas.js';
import { createSharedLimitStore } from './shared-state/shared-limit-store.js';
import { createConcurrencyLimiter } from './upstream/concurrency-limiter.js';
import { createNtropyClient } from './upstream/ntropy-client.js';
import { createLocalPauseGate } from './upstream/pause-gate.js';
import { createLocalQuotaHold } from './upstream/quota-hold.js';
import { combineListeners } from './upstream/upstream-events.js';
import { createUpstreamLog } from './upstream/upstream-log.js';
import { readUserAgent } from './version.js';

export interface ServiceOptions {
  logger: Logger;
  /** Where audit lines go when not beside the other lines (AUDIT_LOG_FILE). */
  auditLogger?: Logger;
  collectProcessMetrics?: boolean;
  now?: () => number;
  random?: () => number;
}

export function createService(config: Readonly<Config>, options: ServiceOptions) {
  const now = options.now ?? Date.now;
  const metrics = createMetrics({ collectProcessMetrics: options.collectProcessMetrics ?? false });
  // SPEC "Replicas and shared state": with REDIS_URL, what replicas share goes through one connection.
  const redis = config.redis && {
    keyPrefix: config.redis.keyPrefix,
    timeoutMs: config.redis.timeoutMs,
    connection: createRedisConnection({
      url: config.redis.url,
      timeoutMs: config.redis.timeoutMs,
      logger: options.logger,
      observer: metrics.createRedisObserver(),
    }),
  };
  const events = combineListeners(metrics.upstreamListener, createUpstreamLog(options.logger));
  const quotaSettings = {
    holdMs: config.upstream.quotaHoldMs,
    probeIntervalMs: config.upstream.quotaProbeIntervalMs,
  };
  // The pause, the quota hold and the page store are this process's own; with REDIS_URL each is put
  // behind its shared version, which falls back to it whenever Redis cannot answer.
  const local = {
    gate: createLocalPauseGate(events),
    quota: createLocalQuotaHold(quotaSettings, events),
    pages: createLocalPageStore({
      ttlMs: config.cache.ttlMs,
      staleIfErrorMs: config.cache.staleIfErrorMs,
      maxEntries: config.cache.maxEntries,
      maxBytes: config.cache.maxBytes,
      now,
    }),
  };
  const upstreamState = redis
    ? shareAcrossReplicas(local, {
        connection: redis.connection,
        keyPrefix: redis.keyPrefix,
        timeoutMs: redis.timeoutMs,
        cache: config.cache,
        quota: quotaSettings,
        now,
      })
    : { ...local, share: undefined };
  const client = createNtropyClient({
    baseUrl: config.ntropyBaseUrl,
    apiKey: config.ntropyApiKey,
    userAgent: readUserAgent(),
    timeoutMs: config.upstream.timeoutMs,
    maxRetries: config.upstream.maxRetries,
    proxy: config.upstream.proxy,
    gate: upstreamState.gate,
    quota: upstreamState.quota,
    limiter: createConcurrencyLimiter(config.upstream.maxConcurrency, events),
    events,
    now,
    ...(options.random ? { random: options.random } : {}),
  });
  const pageCache = createPageCache({
    store: upstreamState.pages,
    load: (queryString, call) => client.fetchPage({ queryString, ...call }),
    share: upstreamState.share,
    events,
    now,
  });
  let isReady = true;
  let closed: Promise<void> | undefined;
  const verifyToken = createTokenVerifier(config.jwt, now, options.logger);
  const app = createApp({
    config,
    logger: options.logger,
    verifyToken,
    pageCache,
    metrics,
    userLimitStore:
      redis && createSharedLimitStore({ connection: redis.connection, prefix: `${redis.keyPrefix}limit:` }),
    isReady: () => isReady,
    now,
    auditLogger: options.auditLogger,
  });
  return {
    config,
    app,
    metrics,
    /** Turns /readyz to 503 and asks every later response to close its connection. */
    beginShutdown(): void {
      isReady = false;
    },
    /** Starts connecting to Redis, once listening: startup touches no network; safe to call more than once. */
    connectSharedState(): void {
      redis?.connection.connect();
    },
    /** Closes the upstream pool, the Redis connection and the JWKS pool; safe to call more than once. */
    close: (): Promise<void> =>
      (closed ??= Promise.all([client.close(), redis?.connection.close(), verifyToken.close()]).then(
        () => undefined,
      )),
  };
}

export type Service = ReturnType<typeof createService>;
