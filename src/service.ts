// Builds the app and its collaborators from one Config; no module-level state, nothing listens here.
import type { Logger } from 'pino';
import { createApp } from './app.js';
import { createPageCache } from './batches/page-cache.js';
import type { Config } from './config.js';
import { createTokenVerifier } from './http/token-verifier.js';
import { createMetrics } from './metrics.js';
import { createRedisConnection } from './shared-state/redis-connection.js';
import { createSharedLimitStore } from './shared-state/shared-limit-store.js';
import { createNtropyClient } from './upstream/ntropy-client.js';
import { createPauseGate } from './upstream/pause-gate.js';
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
    connection: createRedisConnection({
      url: config.redis.url,
      timeoutMs: config.redis.timeoutMs,
      logger: options.logger,
      observer: metrics.createRedisObserver(),
    }),
  };
  const client = createNtropyClient({
    baseUrl: config.ntropyBaseUrl,
    apiKey: config.ntropyApiKey,
    userAgent: readUserAgent(),
    timeoutMs: config.upstream.timeoutMs,
    maxRetries: config.upstream.maxRetries,
    proxy: config.upstream.proxy,
    gate: createPauseGate(),
    observer: metrics.upstreamObserver,
    now,
    ...(options.random ? { random: options.random } : {}),
  });
  const pageCache = createPageCache({
    ttlMs: config.cache.ttlMs,
    maxEntries: config.cache.maxEntries,
    maxBytes: config.cache.maxBytes,
    load: (queryString, call) => client.fetchPage({ queryString, ...call }),
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
