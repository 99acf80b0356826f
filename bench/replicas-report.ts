// Scenario 6's table and summary line: the hit paths side by side, and the two bursts.
import { printTable } from './report.js';
import { BURST_DELAY_MS, BURST_SIZE, CONCURRENCY, ROUNDS, type benchReplicas } from './replicas.js';

export type ReplicasFigures = Awaited<ReturnType<typeof benchReplicas>>;

export function printReplicas(figures: ReplicasFigures): void {
  const { hit, burst } = figures;
  const row = (name: string, run: ReplicasFigures['hit']['single']) => [
    name,
    Math.round(run.rps).toLocaleString('en-US'),
    run.p50Ms.toFixed(2),
    run.p99Ms.toFixed(2),
    run.cpuUsPerRequest.toFixed(0),
    String(run.notHits),
  ];
  printTable(
    [
      `6 replicas: hit (${figures.pages} pages, c=${CONCURRENCY}, undici; median of ${ROUNDS})`,
      'req/s',
      'p50 ms',
      'p99 ms',
      'CPU µs/req',
      'not HIT',
    ],
    [
      row('one process, its own cache (L1)', hit.single),
      row('replica, its own copy (L1)', hit.l1),
      row("replica, first sight of another's page (Redis)", hit.l2),
    ],
  );
  printTable(
    [
      `6 replicas: burst (${BURST_SIZE} identical at once, upstream ${BURST_DELAY_MS} ms)`,
      'upstream calls',
      'joined',
      'hits',
      '200s',
      'elapsed ms',
      'Redis errors',
    ],
    [burst.single, burst.replicas].map((run) => [
      run.replicas === 1 ? 'one process' : `spread over ${run.replicas} replicas`,
      String(run.upstreamCalls),
      String(run.collapsed),
      String(run.hits),
      String(run.ok),
      run.elapsedMs.toFixed(0),
      run.replicas === 1 ? '' : String(run.redisErrors),
    ]),
  );
}

export function summarizeReplicas({ hit, burst }: ReplicasFigures): string {
  return (
    `hit via Redis ${(hit.l2.rps / hit.single.rps).toFixed(2)}× one process's req/s, ${hit.l2.cpuUsPerRequest.toFixed(0)} against ${hit.single.cpuUsPerRequest.toFixed(0)} CPU µs/req ` +
    `(L1 copy ${(hit.l1.rps / hit.single.rps).toFixed(2)}×); ` +
    `burst of ${BURST_SIZE} over 3 replicas: ${burst.replicas.upstreamCalls} upstream call in ${burst.replicas.elapsedMs.toFixed(0)} ms`
  );
}

/** Answers that were not hits, or not 200: such a run measured something else. */
export function countReplicaErrors({ hit, burst }: ReplicasFigures): number {
  return (
    hit.single.notHits +
    hit.l1.notHits +
    hit.l2.notHits +
    2 * BURST_SIZE -
    burst.single.ok -
    burst.replicas.ok
  );
}
