// The performance goals (hit, miss against the peer, miss at one connection, RSS): verdicts and the Markdown table BENCHMARKS.md shows.
import { readFileSync, writeFileSync } from 'node:fs';
import { addedP50Ms, pairedMedian, rpsRatio, type Compared } from './compare.js';
import type { benchBurst, benchCacheHit, benchMemory, benchMissPath } from './scenarios.js';

export interface GoalFigures {
  hit: Awaited<ReturnType<typeof benchCacheHit>>;
  miss: Awaited<ReturnType<typeof benchMissPath>>;
  burst: Awaited<ReturnType<typeof benchBurst>>;
  memory: Awaited<ReturnType<typeof benchMemory>>;
}

export interface Goal {
  /** The path measured, as the table names it. */
  name: string;
  measured: string;
  goal: string;
  isMet: boolean;
}

export const HIT_GOAL = 1.0;
export const MISS_GOAL = 1.3;
export const SINGLE_MISS_ADDED_P50_GOAL_MS = 0.25;
export const RSS_GOAL_MIB = 128;

const ratio = (value: number) => `${value.toFixed(2)}×`;
const plusMs = (value: number) => `${value >= 0 ? '+' : ''}${value.toFixed(2)} ms`;
const cpu = (run: Compared) => `${run.cpuUsPerRequest.toFixed(0)} µs`;
const cpuRatio = (a: Compared, b: Compared) =>
  pairedMedian(a, b, (x, y) => x.cpuUsPerRequest / y.cpuUsPerRequest);

export function judgeGoals({ hit, miss, burst, memory }: GoalFigures): Goal[] {
  const [busy, single] = miss;
  if (busy === undefined || single === undefined) throw new Error('missing miss-path runs');
  const missRatio = rpsRatio(busy.proxied, busy.peer);
  const singleAddedP50Ms = addedP50Ms(single.proxied, single.direct);
  return [
    ...hit.proxies
      .filter((proxy) => proxy.isTarget)
      .map((proxy) => {
        const vsExpress = rpsRatio(proxy, hit.express);
        return {
          name: `cache hit with its audit line, ${proxy.label}`,
          measured:
            `**${ratio(vsExpress)}** plain Express (${ratio(rpsRatio(proxy, hit.peer))} the peer, ` +
            `${ratio(rpsRatio(proxy, hit.bareNode))} node:http); CPU ${cpu(proxy)}/req, Express ${cpu(hit.express)}`,
          goal: `≥ ${HIT_GOAL.toFixed(1)}× plain Express`,
          isMet: vsExpress >= HIT_GOAL,
        };
      }),
    {
      name: 'miss, a distinct cursor per request (c=32)',
      measured:
        `**${ratio(missRatio)}** the peer (CPU ${cpu(busy.proxied)} / ${cpu(busy.peer)} per request, ` +
        `stand-in included: ${ratio(cpuRatio(busy.proxied, busy.peer))}); ${ratio(rpsRatio(busy.proxied, busy.direct))} direct`,
      goal: `≥ ${MISS_GOAL.toFixed(1)}× the peer`,
      isMet: missRatio >= MISS_GOAL,
    },
    {
      name: 'miss at one connection',
      measured:
        `**${plusMs(singleAddedP50Ms)}** p50 over calling the upstream directly ` +
        `(peer ${plusMs(addedP50Ms(single.peer, single.direct))})`,
      goal: `≤ +${SINGLE_MISS_ADDED_P50_GOAL_MS.toFixed(2)} ms`,
      isMet: singleAddedP50Ms <= SINGLE_MISS_ADDED_P50_GOAL_MS,
    },
    {
      name: `RSS after ${memory.pages.toLocaleString('en-US')} cached pages`,
      measured:
        `**${memory.rssAfterMb.toFixed(0)} MiB** (${memory.rssBeforeMb.toFixed(0)} before the fill; ` +
        `heap ${memory.heapUsedMb.toFixed(0)} used of ${memory.heapTotalMb.toFixed(0)}, external ${memory.externalMb.toFixed(0)})` +
        (memory.oldestStillCached ? '' : '; NOT all pages still cached'),
      goal: `≤ ${RSS_GOAL_MIB} MiB`,
      isMet: memory.rssAfterMb <= RSS_GOAL_MIB && memory.oldestStillCached,
    },
    {
      name: `burst of ${burst.requests} identical requests`,
      measured: `**${burst.upstreamCalls}** upstream call in ${burst.elapsedMs.toFixed(0)} ms (upstream ${burst.delayMs} ms)`,
      goal: 'exactly 1 upstream call',
      isMet: burst.upstreamCalls === 1,
    },
  ];
}

export function renderGoalsMarkdown(goals: Goal[], heading: string): string {
  const rows = goals.map(
    (goal) => `| ${goal.name} | ${goal.measured} | ${goal.goal} | ${goal.isMet ? 'met' : '**not met**'} |`,
  );
  return [heading, '', '| path | measured | goal | status |', '|---|---|---|---|', ...rows].join('\n');
}

const START = '<!-- bench:goals:start -->';
const END = '<!-- bench:goals:end -->';

/** Replaces the block between the two markers in `file` (BENCHMARKS.md) with `markdown`; false when absent. */
export function writeGoalsInto(file: string, markdown: string): boolean {
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start === -1 || end < start) return false;
  writeFileSync(file, `${text.slice(0, start + START.length)}\n${markdown}\n${text.slice(end)}`);
  return true;
}
