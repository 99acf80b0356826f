// Reads one series of the proxy's /metrics text, e.g. `ntropy_bff_upstream_queue_length` or `…_total{result="stale"}`.
import type { Harness } from './harness.js';

/** The series' current value; 0 when it is not there (prom-client prints a labelled series once touched). */
export async function readMetric(h: Harness, series: string): Promise<number> {
  const text = await h.service.metrics.registry.metrics();
  const line = text.split('\n').find((entry) => entry.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}
