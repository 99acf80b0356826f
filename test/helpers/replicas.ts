// N in-process replicas of the proxy on real sockets, sharing one simulated Ntropy and one environment (e.g. REDIS_URL).
import { loadConfig } from '../../src/config.js';
import {
  startSimulatedNtropy,
  type SimulatedNtropy,
  type SimulatedNtropyOptions,
} from '../../src/demo/simulated-ntropy.js';
import { createLogger } from '../../src/logger.js';
import { listen, type RunningServer } from '../../src/server.js';
import { createService } from '../../src/service.js';
import { API_KEY, testEnv } from './harness.js';
import { createLogCapture, type LogCapture } from './log-capture.js';
import { startRedisServer, type RedisServer } from './redis-server.js';
import { bearer, signToken } from './tokens.js';

export interface Replica {
  url: string;
  logs: LogCapture;
  running: RunningServer;
  /** GET `path` with a token for `sub`; resolves with the status, headers, body and time taken. */
  get(
    path: string,
    sub: string,
    signal?: AbortSignal,
  ): Promise<{ status: number; headers: Headers; durationMs: number; body: string }>;
  /** The value of one unlabelled metric, from /metrics. */
  metric(name: string): Promise<number | undefined>;
}

export interface Replicas {
  upstream: SimulatedNtropy;
  replicas: Replica[];
  close(): Promise<void>;
}

export { API_KEY };

async function startReplica(
  upstreamUrl: string,
  env: Record<string, string | undefined>,
  now?: () => number,
): Promise<Replica> {
  const config = loadConfig(testEnv(upstreamUrl, env));
  const logs = createLogCapture();
  const logger = createLogger(config.logLevel, logs.stream);
  const running = await listen(
    createService(config, { logger, ...(now && { now }) }),
    '127.0.0.1',
    0,
    logger,
  );
  return {
    url: running.url,
    logs,
    running,
    async get(path, sub, signal) {
      const startedAtMs = performance.now();
      const res = await fetch(`${running.url}${path}`, {
        headers: { authorization: bearer(signToken({ claims: { sub } })) },
        ...(signal && { signal }),
      });
      const body = await res.text();
      return { status: res.status, headers: res.headers, durationMs: performance.now() - startedAtMs, body };
    },
    async metric(name) {
      const text = await (await fetch(`${running.url}/metrics`)).text();
      const line = text.split('\n').find((entry) => entry.startsWith(`${name} `));
      return line === undefined ? undefined : Number(line.slice(name.length + 1));
    },
  };
}

export interface ReplicasOptions {
  env?: Record<string, string | undefined>;
  /** Settings of one replica only, over `env` (e.g. a shorter REQUEST_DEADLINE_MS). */
  envOf?: (index: number) => Record<string, string>;
  upstream?: SimulatedNtropyOptions;
  /** One clock for every replica, when a test moves time instead of waiting for it. */
  now?: () => number;
}

export async function startReplicas(count: number, options: ReplicasOptions = {}): Promise<Replicas> {
  const upstream = await startSimulatedNtropy({ apiKey: API_KEY, ...options.upstream });
  const replicas: Replica[] = [];
  for (let i = 0; i < count; i += 1) {
    const env = { ...options.env, ...options.envOf?.(i) };
    replicas.push(await startReplica(upstream.url, env, options.now));
  }
  return {
    upstream,
    replicas,
    async close() {
      await Promise.all(replicas.map((replica) => replica.running.shutdown(0)));
      await upstream.close();
    },
  };
}

/**
 * One clock for several replicas that moves only when the test moves it: freshness, Age and pauses are
 * then exact. Redis and the proxy's own timers still run on real time.
 */
export function createSharedClock(): { now: () => number; advanceBy: (ms: number) => Promise<void> } {
  const startedAtMs = Date.now();
  let offsetMs = 0;
  return {
    now: () => startedAtMs + offsetMs,
    async advanceBy(ms) {
      offsetMs += ms;
      // lru-cache reuses a clock reading for 1 ms; a short pause makes it read the moved clock.
      await new Promise((resolve) => setTimeout(resolve, 5));
    },
  };
}

/** The log records of `replica` from `fromIndex` on whose message starts with `msg`. */
export function linesSaying(replica: Replica, msg: string, fromIndex = 0): Record<string, unknown>[] {
  return replica.logs
    .records()
    .slice(fromIndex)
    .filter((line) => String(line.msg).startsWith(msg));
}

/** Polls `check` until it holds; fails after `timeoutMs` (a bound for a broken build, not a timing claim). */
export async function waitFor(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Whether every replica's /metrics shows `value` for the unlabelled metric `name`. */
export async function everyReplicaReports(r: Replicas, name: string, value: number): Promise<boolean> {
  const values = await Promise.all(r.replicas.map((replica) => replica.metric(name)));
  return values.every((reported) => reported === value);
}

/** A fresh redis-server and `count` replicas sharing it through REDIS_URL, each connected to it. */
export async function startSharingReplicas(
  count: number,
  env: Record<string, string | undefined>,
  options: Omit<ReplicasOptions, 'env'> = {},
): Promise<{ redis: RedisServer; r: Replicas; close: () => Promise<void> }> {
  const redis = await startRedisServer();
  const r = await startReplicas(count, { ...options, env: { REDIS_URL: redis.url, ...env } });
  await waitFor(() => everyReplicaReports(r, 'ntropy_bff_redis_up', 1));
  return {
    redis,
    r,
    async close() {
      await r.close();
      await redis.stop();
    },
  };
}
