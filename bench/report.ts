// Turns the scenarios' figures into the printed tables, the target verdicts and the one-line summary.
import { addedP50Ms, rpsRatio, type Measured } from './compare.js';
import type { benchFaults } from './faults.js';
import { judgeGoals, type GoalFigures } from './goals.js';
import { ROUNDS } from './scenarios.js';

/** Scenarios 1 to 4 (the goals' figures) and 5. */
export interface Figures extends GoalFigures {
  /** Scenario 5; its errors are what it measures, so they never invalidate the run. */
  faults: Awaited<ReturnType<typeof benchFaults>>;
}

export interface Target {
  name: string;
  measured: string;
  isMet: boolean;
}

const fixed = (value: number, digits = 2) => value.toFixed(digits);
const ratio = (value: number) => `${value.toFixed(2)}×`;
const plusMs = (value: number) => `${value >= 0 ? '+' : ''}${value.toFixed(2)} ms`;

export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  console.log(`\n${line(header)}\n${line(widths.map((width) => '-'.repeat(width)))}`);
  for (const row of rows) console.log(line(row));
}

function loadRow(name: string, result: Measured): string[] {
  return [
    name,
    Math.round(result.rps).toLocaleString('en-US'),
    fixed(result.p50Ms),
    fixed(result.p99Ms),
    fixed(result.cpuUsPerRequest, 0),
    String(result.errors),
  ];
}

/** Non-2xx answers and socket errors: a run that measured 401s or 429s measured nothing. */
export function countErrors({ hit, miss, burst }: Figures): number {
  const runs = [
    hit.bareNode,
    hit.express,
    hit.peer,
    ...hit.proxies,
    ...miss.flatMap((run) => [run.direct, run.proxied, run.peer]),
  ];
  return runs.reduce((sum, run) => sum + run.errors, 0) + burst.requests - (burst.statuses['200'] ?? 0);
}

/** The goals, as the printed table and the summary line name them (bench/goals.ts holds them). */
export function judgeTargets(figures: Figures): Target[] {
  return judgeGoals(figures).map((goal) => ({
    name: `${goal.name}: ${goal.goal}`,
    measured: goal.measured.replaceAll('**', ''),
    isMet: goal.isMet,
  }));
}

const percent = (value: number) => `${(value * 100).toFixed(2)} %`;

/** Scenario 5, one row per CACHE_STALE_IF_ERROR_MS setting. */
export function printFaults(faults: Figures['faults']): void {
  printTable(
    [
      '5 faults (hot set of 50, wrk -c16)',
      'requests',
      'success',
      'non-2xx',
      'timeouts',
      'upstream calls/req',
      'stale',
      'p50 ms',
      'p99 ms',
    ],
    faults.map((run) => [
      run.label,
      String(run.requests),
      percent(run.successRate),
      String(run.non2xx),
      String(run.timeouts),
      fixed(run.upstreamCallsPerRequest, 3),
      String(run.stale),
      fixed(run.p50Ms),
      fixed(run.p99Ms),
    ]),
  );
}

export function summarizeFaults(faults: Figures['faults']): string {
  return faults.map((run) => `${percent(run.successRate)} success (${run.label})`).join(', ');
}

export function printReport(figures: Figures, targets: Target[]): void {
  const { hit, miss, memory } = figures;
  printTable(
    [
      `scenario (wrk -t1 -c32 unless c=1; median of ${ROUNDS} rounds)`,
      'req/s',
      'p50 ms',
      'p99 ms',
      'CPU µs/req',
      'errors',
    ],
    [
      loadRow('1 hit   bare node:http (ceiling)', hit.bareNode),
      loadRow('1 hit   plain Express (ceiling)', hit.express),
      loadRow('1 hit   the peer (no cache; stand-in CPU included)', hit.peer),
      ...hit.proxies.map((proxy) => loadRow(`1 hit   proxy, ${proxy.label}`, proxy)),
      ...miss.flatMap((run) => [
        loadRow(`2 miss  stand-in direct, c=${run.connections}`, run.direct),
        loadRow(`2 miss  via proxy, c=${run.connections}`, run.proxied),
        loadRow(`2 miss  via the peer, c=${run.connections}`, run.peer),
      ]),
    ],
  );
  const info = (name: string, measured: string) => [`(info) ${name}`, measured, ''];
  printTable(
    ['target', 'measured', 'status'],
    [
      ...targets.map((target) => [target.name, target.measured, target.isMet ? 'met' : 'NOT MET']),
      ...hit.proxies
        .filter((proxy) => !proxy.isTarget)
        .map((proxy) => {
          const [plain] = hit.proxies;
          const vsPlain = plain === undefined ? '' : `, ${ratio(rpsRatio(proxy, plain))} ${plain.label}`;
          return info(`hit, ${proxy.label}`, `${ratio(rpsRatio(proxy, hit.express))} Express${vsPlain}`);
        }),
      info(
        'peak RSS during scenario 1',
        `${fixed(Math.max(...hit.proxies.map((proxy) => proxy.peakRssMb)), 1)} MB proxy; ceilings ` +
          `${fixed(hit.bareNode.peakRssMb, 1)} MB node:http, ${fixed(hit.express.peakRssMb, 1)} MB Express`,
      ),
      info(
        'after the fill, from /metrics',
        `V8 heap ${fixed(memory.heapUsedMb, 1)} MB used of ${fixed(memory.heapTotalMb, 1)} MB, ` +
          `external ${fixed(memory.externalMb, 1)} MB`,
      ),
    ],
  );
  printFaults(figures.faults);
}

export function summarize(figures: Figures, targets: Target[], errors: number, elapsedS: number): string {
  const { hit, miss, burst, memory, faults } = figures;
  const [busy, single] = miss;
  const hits = hit.proxies
    .filter((proxy) => proxy.isTarget)
    .map((proxy) => `${ratio(rpsRatio(proxy, hit.express))} (${proxy.label})`);
  const missRatio = busy === undefined ? NaN : rpsRatio(busy.proxied, busy.peer);
  const singleAddedP50Ms = single === undefined ? NaN : addedP50Ms(single.proxied, single.direct);
  return (
    `bench: hit ${hits.join(', ')} of plain Express; ` +
    `miss ${ratio(missRatio)} the peer, ${plusMs(singleAddedP50Ms)} p50 at c=1; ` +
    `burst ${burst.upstreamCalls} upstream call in ${fixed(burst.elapsedMs, 0)} ms; ` +
    `RSS ${fixed(memory.rssAfterMb, 0)} MiB with ${memory.pages} pages; ` +
    `faults: ${summarizeFaults(faults)} — ` +
    `${targets.filter((target) => target.isMet).length}/${targets.length} targets met` +
    `${errors > 0 ? `; ${errors} ERRORS, results invalid` : ''} (${fixed(elapsedS, 0)} s)`
  );
}
