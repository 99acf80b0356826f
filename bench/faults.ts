// Scenario 5: a faulty stand-in (503s and 429s with Retry-After) behind the proxy, with stale pages on and off.
import { compare, type Compared, type Measured } from './compare.js';
import type { LoadOptions } from './load.js';
import type { Server } from './processes.js';
import { HIT_PATH, startProxy, startStandIn, type Auth } from './servers.js';

/** Scenario 5's fault mix: about 10 % of calls fail with 503 and 2 % with `429, Retry-After: 1`. */
export const FAULTS = { rate503: 0.1, rate429: 0.02, retryAfterS: 1 };
/** Short freshness, so that the hot set is refetched often and meets the faults. */
export const FAULT_TTL_MS = 1000;
export const FAULT_ROUNDS = 4;
const FAULT_LOAD = { connections: 16, warmupS: 2, durationS: 5 };
/** CACHE_STALE_IF_ERROR_MS: the default (5 minutes) and off. */
const CONFIGS = [
  { label: 'stale pages on (default)', staleIfErrorMs: '300000' },
  { label: 'stale pages off (0)', staleIfErrorMs: '0' },
];

async function readCalls(standIn: Server): Promise<number> {
  const response = await fetch(`${standIn.url}/__calls`);
  return ((await response.json()) as { calls: number }).calls;
}

/** The proxy's cache lookups by result, from its /metrics. */
async function readLookups(proxy: Server): Promise<Record<'hit' | 'miss' | 'stale', number>> {
  const text = await (await fetch(`${proxy.url}/metrics`)).text();
  const count = (result: string) =>
    Number(
      new RegExp(`^ntropy_bff_cache_lookups_total\\{result="${result}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0,
    );
  return { hit: count('hit'), miss: count('miss'), stale: count('stale') };
}

export async function benchFaults(auth: Auth) {
  const servers: Server[] = [];
  try {
    const standIn = await startStandIn(0, FAULTS);
    servers.push(standIn);
    const load: LoadOptions = { ...FAULT_LOAD, token: auth.token, script: 'hot-set.lua' };
    const contenders = [];
    const counted = CONFIGS.map(() => ({ upstreamCalls: 0, stale: 0, hit: 0, miss: 0 }));
    for (const [index, config] of CONFIGS.entries()) {
      const proxy = await startProxy(standIn, auth, {
        CACHE_TTL_MS: String(FAULT_TTL_MS),
        CACHE_STALE_IF_ERROR_MS: config.staleIfErrorMs,
      });
      servers.push(proxy);
      const tally = counted[index];
      contenders.push({
        servers: [proxy, standIn],
        url: proxy.url + HIT_PATH,
        load,
        // Only measured rounds count: the stand-in's calls and the proxy's lookups around each.
        onRun: async (run: () => Promise<Measured>) => {
          const [callsBefore, before] = [await readCalls(standIn), await readLookups(proxy)];
          const result = await run();
          const [callsAfter, after] = [await readCalls(standIn), await readLookups(proxy)];
          if (tally !== undefined) {
            tally.upstreamCalls += callsAfter - callsBefore;
            for (const result of ['hit', 'miss', 'stale'] as const)
              tally[result] += after[result] - before[result];
          }
          return result;
        },
      });
    }
    const measured = await compare(contenders, FAULT_ROUNDS);
    return CONFIGS.map((config, index) => {
      const run = measured[index] as Compared;
      const tally = counted[index] ?? { upstreamCalls: 0, stale: 0, hit: 0, miss: 0 };
      return {
        ...config,
        ...run,
        ...tally,
        successRate: (run.requests - run.errors) / run.requests,
        upstreamCallsPerRequest: tally.upstreamCalls / run.requests,
      };
    });
  } finally {
    for (const server of servers.reverse()) await server.stop();
  }
}
