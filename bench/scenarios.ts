// The first four scenarios: cache hit beside two ceilings, miss path beside the stand-in, burst, memory.
import { compare, type Compared, type Measured } from './compare.js';
import { hasWrk, burst, requestAll, type LoadOptions } from './load.js';
import { FIRST_PAGE, renderPage } from './page.js';
import { readMemoryMb, type Server } from './processes.js';
import {
  HIT_PATH,
  startCeiling,
  startPeer,
  startProxy,
  startStandIn,
  withServer,
  type Auth,
} from './servers.js';
/** Each comparison: a warm-up per contender, then this many interleaved measured rounds. */
export const ROUNDS = 5;
const HIT_LOAD = { connections: 32, warmupS: 2, durationS: 2 };
const MISS_LOADS = [
  { connections: 32, warmupS: 2, durationS: 2 },
  // Rounds of 1 s: at one connection that is still over a thousand latencies per round.
  { connections: 1, warmupS: 1, durationS: 1 },
];
const BURST_SIZE = 200;
const BURST_DELAY_MS = 100;
const FILL_PAGES = 5000;
const HOUR_MS = '3600000';

async function fetchChecked(url: string, token: string): Promise<{ body: string; cache: string | null }> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const body = await response.text();
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}: ${body}`);
  return { body, cache: response.headers.get('x-cache') };
}

/** Every hit contender must serve the same bytes, and the proxy must really be serving hits. */
async function checkServesFirstPage(server: Server, token: string): Promise<void> {
  await fetchChecked(server.url + HIT_PATH, token);
  const { body, cache } = await fetchChecked(server.url + HIT_PATH, token);
  if (body !== FIRST_PAGE) throw new Error(`${server.name} does not serve the stand-in's page byte for byte`);
  if (server.name === 'proxy' && cache !== 'HIT') throw new Error(`proxy answered X-Cache: ${cache}`);
}

/**
 * The proxy as the goals measure it (per-user limit off), plus once with the limit on but never
 * reached, since production runs with it (default 300/min) and its cost would otherwise go unseen.
 */
interface HitVariant {
  label: string;
  auth: Auth;
  env: Record<string, string>;
  /** Judged against the goal (else reported for information). */
  isTarget: boolean;
}

// An RS256 token costs the same as an HS256 one on a hit (each token is verified once, then its claims are
// reused), so the run measures HS256 only; `bench/ab.ts` and the profile use HS256 too.
function hitVariants([hs256]: Auth[]): HitVariant[] {
  if (hs256 === undefined) throw new Error('an HS256 token is required');
  return [
    { label: 'HS256 token', auth: hs256, env: {}, isTarget: true },
    {
      label: 'HS256, per-user limit on',
      auth: hs256,
      env: { USER_RATE_LIMIT_PER_MIN: '1000000' },
      isTarget: false,
    },
  ];
}

function hs256Of(variants: HitVariant[]): Auth {
  const variant = variants.find(({ auth }) => auth.algorithm === 'HS256');
  if (variant === undefined) throw new Error('no HS256 token');
  return variant.auth;
}

export async function benchCacheHit(auths: Auth[]) {
  if (!hasWrk) throw new Error('wrk is required');
  const load = (auth: Auth): LoadOptions => ({ ...HIT_LOAD, token: auth.token, script: 'wrk-report.lua' });
  const variants = hitVariants(auths);
  const servers: Server[] = [];
  try {
    const standIn = await startStandIn();
    servers.push(standIn);
    const ceilings = [await startCeiling('node'), await startCeiling('express')];
    servers.push(...ceilings);
    // The peer has no cache: on the hit path it forwards every request to the stand-in.
    const peer = await startPeer(standIn, hs256Of(variants));
    servers.push(peer);
    const proxies = [];
    for (const variant of variants) {
      const proxy = await startProxy(standIn, variant.auth, { CACHE_TTL_MS: HOUR_MS, ...variant.env });
      servers.push(proxy);
      proxies.push({ ...variant, proxy });
    }
    const ceilingLoad = load(hs256Of(variants));
    for (const server of [...ceilings, peer]) await checkServesFirstPage(server, ceilingLoad.token);
    for (const { auth, proxy } of proxies) await checkServesFirstPage(proxy, auth.token);
    // Idle servers cost nothing, so all of them stay up and take turns under load.
    const [bareNode, express, peered, ...proxied] = await compare(
      [
        ...ceilings.map((server) => ({ servers: [server], url: server.url + HIT_PATH, load: ceilingLoad })),
        { servers: [peer, standIn], url: peer.url + HIT_PATH, load: ceilingLoad },
        ...proxies.map(({ auth, proxy }) => ({
          servers: [proxy],
          url: proxy.url + HIT_PATH,
          load: load(auth),
        })),
      ],
      ROUNDS,
    );
    if (bareNode === undefined || express === undefined || peered === undefined)
      throw new Error('missing ceiling or peer runs');
    const peakRssMb = (server: Server | undefined) => readMemoryMb(server?.pid ?? 0).peakRssMb;
    return {
      bareNode: { ...bareNode, peakRssMb: peakRssMb(ceilings[0]) },
      express: { ...express, peakRssMb: peakRssMb(ceilings[1]) },
      peer: { ...peered, peakRssMb: peakRssMb(peer) },
      proxies: proxies.map(({ label, isTarget, proxy }, index) => ({
        label,
        isTarget,
        ...(proxied[index] as Compared),
        peakRssMb: peakRssMb(proxy),
      })),
    };
  } finally {
    for (const server of servers.reverse()) await server.stop();
  }
}

async function readCalls(standIn: Server): Promise<number> {
  const response = await fetch(`${standIn.url}/__calls`);
  return ((await response.json()) as { calls: number }).calls;
}

export async function benchMissPath(auth: Auth) {
  return withServer(startStandIn(), (standIn) =>
    withServer(startProxy(standIn, auth, { CACHE_TTL_MS: '0' }), (proxy) =>
      withServer(startPeer(standIn, auth), async (peer) => {
        const runs = [];
        for (const shape of MISS_LOADS) {
          const load: LoadOptions = { ...shape, token: auth.token, script: 'distinct-cursor.lua' };
          let upstreamCalls = 0;
          const countCalls = async (run: () => Promise<Measured>) => {
            const before = await readCalls(standIn);
            const result = await run();
            upstreamCalls += (await readCalls(standIn)) - before;
            return result;
          };
          const [direct, proxied, peered] = await compare(
            [
              { servers: [standIn], url: standIn.url + HIT_PATH, load },
              // The stand-in's CPU counts too: it serves every one of the proxy's misses.
              { servers: [proxy, standIn], url: proxy.url + HIT_PATH, load, onRun: countCalls },
              { servers: [peer, standIn], url: peer.url + HIT_PATH, load },
            ],
            ROUNDS,
          );
          if (direct === undefined || proxied === undefined || peered === undefined)
            throw new Error('missing miss-path runs');
          const upstreamCallsPerRequest = upstreamCalls / proxied.requests;
          runs.push({
            connections: shape.connections,
            direct,
            proxied,
            peer: peered,
            upstreamCallsPerRequest,
          });
        }
        return runs;
      }),
    ),
  );
}

export async function benchBurst(auth: Auth) {
  return withServer(startStandIn(BURST_DELAY_MS), (standIn) =>
    withServer(startProxy(standIn, auth, {}), async (proxy) => {
      // Another page first (one upstream call, then hits), so the JIT and the upstream pool are warm.
      await requestAll(proxy.url, Array<string>(BURST_SIZE).fill('/v3/batches?limit=20'), auth.token, 1);
      const callsBefore = await readCalls(standIn);
      const result = await burst(proxy.url, HIT_PATH, auth.token, BURST_SIZE);
      return {
        requests: BURST_SIZE,
        delayMs: BURST_DELAY_MS,
        upstreamCalls: (await readCalls(standIn)) - callsBefore,
        ...result,
      };
    }),
  );
}

/** The proxy's own view of its memory, from /metrics (prom-client's default Node metrics), in MB. */
async function readHeapMb(
  proxy: Server,
): Promise<{ heapUsedMb: number; heapTotalMb: number; externalMb: number }> {
  const text = await (await fetch(`${proxy.url}/metrics`)).text();
  const mb = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN) / 1048576;
  return {
    heapUsedMb: mb('nodejs_heap_size_used_bytes'),
    heapTotalMb: mb('nodejs_heap_size_total_bytes'),
    externalMb: mb('nodejs_external_memory_bytes'),
  };
}

export async function benchMemory(auth: Auth) {
  return withServer(startStandIn(), (standIn) =>
    withServer(
      startProxy(standIn, auth, { CACHE_TTL_MS: HOUR_MS, CACHE_MAX_ENTRIES: String(FILL_PAGES * 2) }),
      async (proxy) => {
        await fetchChecked(proxy.url + HIT_PATH, auth.token);
        const before = readMemoryMb(proxy.pid);
        const paths = Array.from({ length: FILL_PAGES }, (_, index) => `${HIT_PATH}&cursor=fill-${index}`);
        const fill = await requestAll(proxy.url, paths, auth.token, 32);
        const after = readMemoryMb(proxy.pid);
        const heap = await readHeapMb(proxy);
        // The oldest pages are the first an LRU would drop: all still HIT means all 5,000 are held.
        const recheck = await requestAll(proxy.url, paths.slice(0, 100), auth.token, 8);
        return {
          pages: FILL_PAGES,
          pageBytes: Buffer.byteLength(renderPage('after-fill-2500')),
          misses: fill.filter((cache) => cache === 'MISS').length,
          oldestStillCached: recheck.every((cache) => cache === 'HIT'),
          rssBeforeMb: before.rssMb,
          rssAfterMb: after.rssMb,
          peakRssMb: after.peakRssMb,
          ...heap,
        };
      },
    ),
  );
}
