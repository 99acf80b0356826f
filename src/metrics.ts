// Every metric, defined once on a registry of the app's own (SPEC "/metrics").
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RedisObserver } from './shared-state/redis-health.js';
import type { UpstreamListener } from './upstream/upstream-events.js';

export function createMetrics(options: { collectProcessMetrics: boolean }) {
  const registry = new Registry();
  if (options.collectProcessMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const requests = new Counter({
    name: 'ntropy_bff_http_requests_total',
    help: 'HTTP requests answered, by route template, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers,
  });
  const duration = new Histogram({
    name: 'ntropy_bff_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by route template',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20],
    registers,
  });
  const cache = new Counter({
    name: 'ntropy_bff_cache_lookups_total',
    help: 'Page cache lookups, by result: hit, miss, or stale (a kept page answered an upstream error)',
    labelNames: ['result'] as const,
    registers,
  });
  const upstreamAttempts = new Counter({
    name: 'ntropy_bff_upstream_attempts_total',
    help: 'Upstream attempts started, by outcome (HTTP status, timeout, unreachable, too_large, cancelled)',
    labelNames: ['outcome'] as const,
    registers,
  });
  const upstreamRetries = new Counter({
    name: 'ntropy_bff_upstream_retries_total',
    help: 'Upstream retries made',
    registers,
  });
  const rateLimitWaits = new Counter({
    name: 'ntropy_bff_upstream_rate_limit_waits_total',
    help: 'Times an upstream call waited for a Retry-After pause to pass',
    registers,
  });
  const rateLimitWaitSeconds = new Counter({
    name: 'ntropy_bff_upstream_rate_limit_wait_seconds_total',
    help: 'Total time upstream calls waited for Retry-After pauses',
    registers,
  });

  const concurrencyLimit = new Gauge({
    name: 'ntropy_bff_upstream_concurrency_limit',
    help: 'Current adaptive limit on upstream calls in flight (AIMD, up to UPSTREAM_MAX_CONCURRENCY)',
    registers,
  });
  const queueLength = new Gauge({
    name: 'ntropy_bff_upstream_queue_length',
    help: 'Upstream calls waiting for a slot under the concurrency limit',
    registers,
  });
  const waitingRequests = new Gauge({
    name: 'ntropy_bff_upstream_waiting_requests',
    help: 'Requests waiting on an upstream call, their own or one they joined',
    registers,
  });
  const pauses = new Counter({
    name: 'ntropy_bff_upstream_pauses_total',
    help: 'Process-wide upstream pauses started by a 429 with Retry-After',
    registers,
  });
  const quotaHolds = new Counter({
    name: 'ntropy_bff_upstream_quota_holds_total',
    help: 'Quota holds started (a 423, or a 429 without Retry-After, while no hold was on)',
    registers,
  });
  const quotaHoldActive = new Gauge({
    name: 'ntropy_bff_upstream_quota_hold_active',
    help: '1 while a quota hold is on, else 0',
    registers,
  });
  const quotaProbes = new Counter({
    name: 'ntropy_bff_upstream_quota_probes_total',
    help: 'Probe calls made during quota holds',
    registers,
  });

  // Each answer's metrics go to labelled children kept here, found without building a label object (the
  // labels are few: the routes, the methods Node's parser accepts, the statuses answered).
  type RequestCounter = ReturnType<typeof requests.labels>;
  const requestCounters = new Map<string, Map<string, Map<number, RequestCounter>>>();
  function requestCounter(route: string, method: string, status: number): RequestCounter {
    let byMethod = requestCounters.get(route);
    if (byMethod === undefined)
      requestCounters.set(route, (byMethod = new Map<string, Map<number, RequestCounter>>()));
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) byMethod.set(method, (byStatus = new Map<number, RequestCounter>()));
    let counter = byStatus.get(status);
    if (counter === undefined)
      byStatus.set(status, (counter = requests.labels(route, method, String(status))));
    return counter;
  }
  const durationHistograms = new Map<string, ReturnType<typeof duration.labels>>();
  function durationHistogram(route: string) {
    let histogram = durationHistograms.get(route);
    if (histogram === undefined) durationHistograms.set(route, (histogram = duration.labels(route)));
    return histogram;
  }
  const cacheCounters = {
    hit: cache.labels('hit'),
    miss: cache.labels('miss'),
    stale: cache.labels('stale'),
  };

  const upstreamListener: UpstreamListener = {
    attempt: (outcome) => upstreamAttempts.inc({ outcome }),
    retry: () => upstreamRetries.inc(),
    pauseWait: (waitMs) => {
      rateLimitWaits.inc();
      rateLimitWaitSeconds.inc(waitMs / 1000);
    },
    pauseStarted: () => pauses.inc(),
    quotaHoldStarted: (_untilMs, _nowMs, isRenewal) => {
      if (!isRenewal) quotaHolds.inc();
      quotaHoldActive.set(1);
    },
    quotaHoldEnded: () => quotaHoldActive.set(0),
    quotaProbe: () => quotaProbes.inc(),
    concurrencyLimit: (limit) => concurrencyLimit.set(limit),
    queueLength: (length) => queueLength.set(length),
    waitingRequests: (delta) => waitingRequests.inc(delta),
  };

  return {
    registry,
    upstreamListener,
    recordRequest(route: string, method: string, status: number, seconds: number): void {
      requestCounter(route, method, status).inc();
      durationHistogram(route).observe(seconds);
    },
    recordCacheLookup(result: 'hit' | 'miss' | 'stale'): void {
      cacheCounters[result].inc();
    },
    /** SPEC "Replicas and shared state": the Redis metrics, registered only when REDIS_URL is set. */
    createRedisObserver(): RedisObserver {
      const up = new Gauge({
        name: 'ntropy_bff_redis_up',
        help: '1 while Redis answers, 0 while this process carries on with its local state',
        registers,
      });
      const errors = new Counter({
        name: 'ntropy_bff_redis_errors_total',
        help: 'Redis commands that failed or timed out, and failed connection attempts',
        registers,
      });
      return { setUp: (isUp) => up.set(isUp ? 1 : 0), countError: () => errors.inc() };
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
