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
  /** GET `path` with a token for `sub`; resolves with the status, headers and time taken. */
  get(path: string, sub: string): Promise<{ status: number; headers: Headers; durationMs: number }>;
  /** The value of one unlabelled metric, from /metrics. */
  metric(name: string): Promise<number | undefined>;
}

export interface Replicas {
  upstream: SimulatedNtropy;
  replicas: Replica[];
  close(): Promise<void>;
}

export { API_KEY };

async function startReplica(upstreamUrl: string, env: Record<string, string | undefined>): Promise<Replica> {
  const config = loadConfig(testEnv(upstreamUrl, env));
  const logs = createLogCapture();
  const logger = createLogger(config.logLevel, logs.stream);
  const running = await listen(createService(config, { logger }), '127.0.0.1', 0, logger);
  return {
    url: running.url,
    logs,
    running,
    async get(path, sub) {
      const startedAtMs = performance.now();
      const res = await fetch(`${running.url}${path}`, {
        headers: { authorization: bearer(signToken({ claims: { sub } })) },
      });
      await res.arrayBuffer();
      return { status: res.status, headers: res.headers, durationMs: performance.now() - startedAtMs };
    },
    async metric(name) {
      const text = await (await fetch(`${running.url}/metrics`)).text();
      const line = text.split('\n').find((entry) => entry.startsWith(`${name} `));
      return line === undefined ? undefined : Number(line.slice(name.length + 1));
    },
  };
}

export async function startReplicas(
  count: number,
  options: { env?: Record<string, string | undefined>; upstream?: SimulatedNtropyOptions } = {},
): Promise<Replicas> {
  const upstream = await startSimulatedNtropy({ apiKey: API_KEY, ...options.upstream });
  const replicas: Replica[] = [];
  for (let i = 0; i < count; i += 1) replicas.push(await startReplica(upstream.url, options.env ?? {}));
  return {
    upstream,
    replicas,
    async close() {
      await Promise.all(replicas.map((replica) => replica.running.shutdown(0)));
      await upstream.close();
    },
  };
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
): Promise<{ redis: RedisServer; r: Replicas; close: () => Promise<void> }> {
  const redis = await startRedisServer();
  const r = await startReplicas(count, { env: { REDIS_URL: redis.url, ...env } });
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
