// Side-by-side measurement: contenders take turns under the same load, and each figure is a median of rounds.
import { runLoad, warmUp, type LoadOptions, type WrkResult } from './load.js';
import { readCpuSeconds, type Server } from './processes.js';

export interface Measured extends WrkResult {
  /** CPU used by the server processes per request, in µs: steadier than req/s on a shared machine. */
  cpuUsPerRequest: number;
}

export interface Contender {
  /** The processes whose CPU this contender costs. */
  servers: Server[];
  url: string;
  load: LoadOptions;
  /** Called around each measured run (the miss path counts upstream calls with it). */
  onRun?: (run: () => Promise<Measured>) => Promise<Measured>;
}

async function measureOnce(contender: Contender): Promise<Measured> {
  const cpuSeconds = () => contender.servers.reduce((sum, server) => sum + readCpuSeconds(server.pid), 0);
  const cpuBefore = cpuSeconds();
  const result = await runLoad(contender.url, contender.load);
  return { ...result, cpuUsPerRequest: ((cpuSeconds() - cpuBefore) * 1e6) / result.requests };
}

export const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

export interface Compared extends Measured {
  /** Each round's own figures, for judging the spread. */
  rounds: Measured[];
}

/**
 * Warms every contender up, then measures them in rounds (A B C, B C A, C A B, ...): whatever else the shared
 * machine does then weighs on all of them alike, in no fixed order. Each figure is the median of its rounds.
 */
export async function compare(contenders: Contender[], rounds: number): Promise<Compared[]> {
  for (const contender of contenders) await warmUp(contender.url, contender.load);
  const runs: Measured[][] = contenders.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (let turn = 0; turn < contenders.length; turn++) {
      const index = (turn + round) % contenders.length;
      const contender = contenders[index];
      if (contender === undefined) continue;
      const run = () => measureOnce(contender);
      runs[index]?.push(await (contender.onRun ? contender.onRun(run) : run()));
    }
  }
  return runs.map((measured) => ({
    requests: measured.reduce((sum, run) => sum + run.requests, 0),
    errors: measured.reduce((sum, run) => sum + run.errors, 0),
    non2xx: measured.reduce((sum, run) => sum + run.non2xx, 0),
    timeouts: measured.reduce((sum, run) => sum + run.timeouts, 0),
    rps: median(measured.map((run) => run.rps)),
    p50Ms: median(measured.map((run) => run.p50Ms)),
    p99Ms: median(measured.map((run) => run.p99Ms)),
    cpuUsPerRequest: median(measured.map((run) => run.cpuUsPerRequest)),
    rounds: measured,
  }));
}

/**
 * A comparison of two contenders, round by round, then the median: the two ran back to back within each
 * round, so a burst of outside load that spoils one round spoils both sides of it alike.
 */
export function pairedMedian(
  a: Compared,
  b: Compared,
  combine: (a: Measured, b: Measured) => number,
): number {
  return median(
    a.rounds.flatMap((round, index) => (b.rounds[index] ? [combine(round, b.rounds[index])] : [])),
  );
}

export const rpsRatio = (a: Compared, b: Compared) => pairedMedian(a, b, (x, y) => x.rps / y.rps);
export const addedP50Ms = (a: Compared, b: Compared) => pairedMedian(a, b, (x, y) => x.p50Ms - y.p50Ms);
export const addedP99Ms = (a: Compared, b: Compared) => pairedMedian(a, b, (x, y) => x.p99Ms - y.p99Ms);
