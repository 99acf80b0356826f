// Scenario 6: three replicas sharing one redis-server — the hit path through L1 and through Redis (L2) beside one process, and a burst.
import { spawnSync } from 'node:child_process';
import { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { median } from './compare.js';
import { requestAll } from './load.js';
import { findFreePort, readCpuSeconds, SERVER_CORE, spawnPinned, type Server } from './processes.js';
import { startProxy, startStandIn, withServer, type Auth } from './servers.js';

export const hasRedisServer = spawnSync('redis-server', ['--version']).error === undefined;
/** Distinct pages per round: each is seen once through Redis (a replica's first sight) and once from L1. */
export const PAGES = 1000;
export const ROUNDS = 3;
export const CONCURRENCY = 16;
export const BURST_SIZE = 300;
export const BURST_DELAY_MS = 100;
const CACHED = { CACHE_TTL_MS: '3600000', CACHE_MAX_ENTRIES: '10000' };

/** A redis-server on the server core, without persistence, as the tests start it. */
async function startRedis(): Promise<{ url: string; pid: number; stop: () => void }> {
  const port = await findFreePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const child = spawnPinned(SERVER_CORE, 'redis-server', args);
  const giveUpAt = Date.now() + 10_000;
  while (!(await answersPing(port))) {
    if (Date.now() > giveUpAt) throw new Error('redis-server did not answer PING');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url: `redis://127.0.0.1:${port}`, pid: child.pid ?? 0, stop: () => child.kill('SIGKILL') };
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.setTimeout(500, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      resolve(chunk.toString().includes('PONG'));
      socket.end();
    });
    socket.on('error', () => resolve(false));
    socket.on('close', () => resolve(false));
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
  });
}

async function startReplicas(standIn: Server, auth: Auth, redisUrl: string): Promise<Server[]> {
  const env = { ...CACHED, REDIS_URL: redisUrl };
  // One after another: concurrent starts on a busy core have each taken over 10 s.
  const replicas: Server[] = [];
  for (let i = 0; i < 3; i++) replicas.push(await startProxy(standIn, auth, env));
  // Each connects in the background once listening: measure only once all three share state.
  const giveUpAt = Date.now() + 10_000;
  for (const replica of replicas) {
    while (!/^ntropy_bff_redis_up 1$/m.test(await (await fetch(`${replica.url}/metrics`)).text())) {
      if (Date.now() > giveUpAt) throw new Error(`${replica.url} did not connect to Redis`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return replicas;
}

interface Timed {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU of the processes that served the run (the proxy, and Redis when it took part), per request. */
  cpuUsPerRequest: number;
  /** Answers by X-Cache: all must be HIT for the run to count. */
  cache: Record<string, number>;
}

/** Requests each path once, `CONCURRENCY` at a time, timing each answer; `pids` serve them. */
async function timedRequests(origin: string, paths: string[], token: string, pids: number[]): Promise<Timed> {
  const cpuSeconds = () => pids.reduce((sum, pid) => sum + readCpuSeconds(pid), 0);
  const cpuBefore = cpuSeconds();
  const pool = new Pool(origin, { connections: CONCURRENCY });
  const latenciesMs: number[] = [];
  const cache: Record<string, number> = {};
  let next = 0;
  const started = performance.now();
  async function work(): Promise<void> {
    while (next < paths.length) {
      const path = paths[next++] ?? '/';
      const sent = performance.now();
      const response = await pool.request({
        path,
        method: 'GET',
        headers: { authorization: `Bearer ${token}` },
      });
      await response.body.arrayBuffer();
      latenciesMs.push(performance.now() - sent);
      const key =
        response.statusCode === 200 ? String(response.headers['x-cache']) : String(response.statusCode);
      cache[key] = (cache[key] ?? 0) + 1;
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, work));
  const elapsedS = (performance.now() - started) / 1000;
  await pool.close();
  latenciesMs.sort((a, b) => a - b);
  const at = (share: number) =>
    latenciesMs[Math.min(latenciesMs.length - 1, Math.floor(share * latenciesMs.length))] ?? NaN;
  const cpuUsPerRequest = ((cpuSeconds() - cpuBefore) * 1e6) / paths.length;
  return { rps: paths.length / elapsedS, p50Ms: at(0.5), p99Ms: at(0.99), cpuUsPerRequest, cache };
}

/** Redis calls that failed or timed out in this replica so far (0 without REDIS_URL). */
async function readRedisErrors(server: Server): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Number(/^ntropy_bff_redis_errors_total (\S+)$/m.exec(text)?.[1] ?? 0);
}

async function readCalls(standIn: Server): Promise<number> {
  return ((await (await fetch(`${standIn.url}/__calls`)).json()) as { calls: number }).calls;
}

/** `BURST_SIZE` identical requests at once, spread evenly over `servers`, each on its own connection. */
async function spreadBurst(standIn: Server, servers: Server[], path: string, token: string) {
  const pools = servers.map((server) => new Pool(server.url, { connections: BURST_SIZE / servers.length }));
  const callsBefore = await readCalls(standIn);
  const started = performance.now();
  const answers = await Promise.all(
    Array.from({ length: BURST_SIZE }, async (_, i) => {
      const response = await pools[i % pools.length]!.request({
        path,
        method: 'GET',
        headers: { authorization: `Bearer ${token}` },
      });
      await response.body.arrayBuffer();
      return { status: response.statusCode, cacheStatus: String(response.headers['cache-status']) };
    }),
  );
  const elapsedMs = performance.now() - started;
  await Promise.all(pools.map((pool) => pool.close()));
  const redisErrors = await Promise.all(servers.map((server) => readRedisErrors(server)));
  return {
    redisErrors: redisErrors.reduce((sum, count) => sum + count, 0),
    replicas: servers.length,
    ok: answers.filter(({ status }) => status === 200).length,
    upstreamCalls: (await readCalls(standIn)) - callsBefore,
    collapsed: answers.filter(({ cacheStatus }) => cacheStatus.endsWith('; collapsed')).length,
    hits: answers.filter(({ cacheStatus }) => cacheStatus.includes('; hit;')).length,
    elapsedMs,
  };
}

export async function benchReplicas(auth: Auth) {
  const redis = await startRedis();
  try {
    const hit = await withServer(startStandIn(), async (standIn) => {
      const single = await startProxy(standIn, auth, CACHED);
      const replicas = await startReplicas(standIn, auth, redis.url);
      const [a, b] = replicas;
      try {
        const runs = { single: [] as Timed[], l1: [] as Timed[], l2: [] as Timed[] };
        for (let round = 0; round < ROUNDS; round++) {
          const paths = Array.from({ length: PAGES }, (_, i) => `/v3/batches?limit=10&cursor=r${round}-${i}`);
          // Misses, not measured: the one process and replica A fetch every page.
          await Promise.all(
            [single, a!].map((proxy) => requestAll(proxy.url, paths, auth.token, CONCURRENCY)),
          );
          runs.l2.push(await timedRequests(b!.url, paths, auth.token, [b!.pid, redis.pid]));
          // The two L1 runs take turns going first.
          for (const which of round % 2 === 0 ? (['l1', 'single'] as const) : (['single', 'l1'] as const)) {
            const proxy = which === 'l1' ? b! : single;
            runs[which].push(await timedRequests(proxy.url, paths, auth.token, [proxy.pid]));
          }
        }
        const summarize = (timed: Timed[]) => ({
          rps: median(timed.map((run) => run.rps)),
          p50Ms: median(timed.map((run) => run.p50Ms)),
          p99Ms: median(timed.map((run) => run.p99Ms)),
          cpuUsPerRequest: median(timed.map((run) => run.cpuUsPerRequest)),
          notHits: timed.reduce((sum, run) => sum + PAGES - (run.cache.HIT ?? 0), 0),
        });
        return { single: summarize(runs.single), l1: summarize(runs.l1), l2: summarize(runs.l2) };
      } finally {
        for (const server of [...replicas, single]) await server.stop();
      }
    });
    const burst = await withServer(startStandIn(BURST_DELAY_MS), async (standIn) => {
      const single = await startProxy(standIn, auth, CACHED);
      const replicas = await startReplicas(standIn, auth, redis.url);
      try {
        // Another page through each first, so JIT and the upstream pools are warm.
        for (const proxy of [single, ...replicas])
          await requestAll(proxy.url, ['/v3/batches?limit=20'], auth.token, 1);
        return {
          single: await spreadBurst(standIn, [single], '/v3/batches?limit=31', auth.token),
          replicas: await spreadBurst(standIn, replicas, '/v3/batches?limit=32', auth.token),
        };
      } finally {
        for (const server of [...replicas, single]) await server.stop();
      }
    });
    return {
      pages: PAGES,
      rounds: ROUNDS,
      concurrency: CONCURRENCY,
      burstSize: BURST_SIZE,
      burstDelayMs: BURST_DELAY_MS,
      hit,
      burst,
    };
  } finally {
    redis.stop();
  }
}
