// Reads ntropy_bff_http_requests_total from /metrics, so tests can compare counts before and after a request.
import type { Harness } from './harness.js';

export interface SeriesLabels {
  route: string;
  status: number;
  method?: string;
}

/** The sum of the series matching `labels` (0 when none exists yet). */
export async function requestsCounted(h: Harness, labels: SeriesLabels): Promise<number> {
  const text = (await h.request.get('/metrics')).text;
  return text
    .split('\n')
    .filter((line) => line.startsWith('ntropy_bff_http_requests_total{'))
    .filter((line) => line.includes(`route="${labels.route}"`) && line.includes(`status="${labels.status}"`))
    .filter((line) => labels.method === undefined || line.includes(`method="${labels.method}"`))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}
