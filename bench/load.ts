// The load generators: wrk on the load core for throughput and latency; undici for the burst and the cache fill.
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { BENCH_DIR, LOAD_CORE, spawnPinned } from './processes.js';

export const hasWrk = spawnSync('wrk', ['--version']).error === undefined;

export interface LoadOptions {
  connections: number;
  durationS: number;
  warmupS: number;
  token: string;
  /** A wrk Lua script in bench/; every one of them prints the WRK_JSON line. */
  script: 'wrk-report.lua' | 'distinct-cursor.lua' | 'hot-set.lua';
}

export interface WrkResult {
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Non-2xx answers, socket errors and timeouts: a valid run has none. */
  errors: number;
  /** Of those, the non-2xx answers and wrk's own timeouts (`--timeout 5s`). */
  non2xx: number;
  timeouts: number;
}

interface WrkJson {
  requests: number;
  duration_us: number;
  errors: Record<'connect' | 'read' | 'write' | 'status' | 'timeout', number>;
  latency_us: { p50: number; p99: number };
}

async function runWrk(url: string, options: LoadOptions, durationS: number): Promise<WrkResult> {
  const args = ['-t1', `-c${options.connections}`, `-d${durationS}s`, '--timeout', '5s'];
  args.push('-H', `Authorization: Bearer ${options.token}`, '-s', BENCH_DIR + options.script, url);
  const child = spawnPinned(LOAD_CORE, 'wrk', args, { stdout: 'pipe' });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const line = output.split('\n').find((text) => text.startsWith('WRK_JSON '));
  if (code !== 0 || line === undefined) throw new Error(`wrk failed (${code}) against ${url}:\n${output}`);
  const json = JSON.parse(line.slice('WRK_JSON '.length)) as WrkJson;
  const errors = Object.values(json.errors).reduce((sum, count) => sum + count, 0);
  return {
    requests: json.requests,
    rps: json.requests / (json.duration_us / 1e6),
    p50Ms: json.latency_us.p50 / 1000,
    p99Ms: json.latency_us.p99 / 1000,
    errors,
    non2xx: json.errors.status,
    timeouts: json.errors.timeout,
  };
}

/** A short unrecorded run: JIT, connection pools and the first miss are behind us before measuring. */
export async function warmUp(url: string, options: LoadOptions): Promise<void> {
  if (options.warmupS > 0) await runWrk(url, options, options.warmupS);
}

export function runLoad(url: string, options: LoadOptions): Promise<WrkResult> {
  return runWrk(url, options, options.durationS);
}

export interface BurstResult {
  statuses: Record<string, number>;
  /** Joined the one upstream call. */
  collapsed: number;
  /** Arrived after that call had filled the cache. */
  hits: number;
  elapsedMs: number;
}

/** `count` identical requests at once, each on its own connection. */
export async function burst(
  origin: string,
  path: string,
  token: string,
  count: number,
): Promise<BurstResult> {
  const pool = new Pool(origin, { connections: count });
  const started = performance.now();
  const answers = await Promise.all(
    Array.from({ length: count }, async () => {
      const response = await pool.request({
        path,
        method: 'GET',
        headers: { authorization: `Bearer ${token}` },
      });
      await response.body.arrayBuffer();
      const { 'cache-status': cacheStatus, 'x-cache': cache } = response.headers;
      return { status: response.statusCode, cacheStatus: String(cacheStatus), cache: String(cache) };
    }),
  );
  const elapsedMs = performance.now() - started;
  await pool.close();
  const statuses: Record<string, number> = {};
  for (const { status } of answers) statuses[status] = (statuses[status] ?? 0) + 1;
  const collapsed = answers.filter(({ cacheStatus }) => cacheStatus.includes('collapsed')).length;
  const hits = answers.filter(({ cache }) => cache === 'HIT').length;
  return { statuses, collapsed, hits, elapsedMs };
}

/** Requests every path once, `concurrency` at a time; returns the X-Cache value of each answer. */
export async function requestAll(
  origin: string,
  paths: string[],
  token: string,
  concurrency: number,
): Promise<string[]> {
  const pool = new Pool(origin, { connections: concurrency });
  const cache: string[] = [];
  let next = 0;
  async function work(): Promise<void> {
    while (next < paths.length) {
      const index = next++;
      const response = await pool.request({
        path: paths[index] ?? '/',
        method: 'GET',
        headers: { authorization: `Bearer ${token}` },
      });
      await response.body.arrayBuffer();
      if (response.statusCode !== 200) throw new Error(`${paths[index]} answered ${response.statusCode}`);
      cache[index] = String(response.headers['x-cache']);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, work));
  await pool.close();
  return cache;
}
