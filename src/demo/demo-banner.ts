// What `npm run demo` prints first: where everything is, the dev token, faults, and which variables it set.
import { DEMO_DROPS, DEMO_SETS } from './demo-env.js';

export interface BannerFacts {
  proxyUrl: string;
  upstreamUrl: string;
  pageUrl: string;
  batchCount: number;
  token: string;
  tokenTtlS: number;
  scope: string | undefined;
  secret: string;
  fault429Rate: number;
  fault503Rate: number;
  latencyMs: number;
  /** The user's variables the demo did not use. */
  ignored: readonly string[];
}

function percent(rate: number): string {
  return `${Math.round(rate * 1000) / 10}%`;
}

/** SPEC "Running": a newcomer sees at once whether the upstream misbehaves on purpose. */
export function describeFaults(fault429Rate: number, fault503Rate: number): string {
  if (fault429Rate === 0 && fault503Rate === 0) return 'Fault injection: off';
  return (
    `Fault injection: ON, ${percent(fault429Rate)} of upstream calls answer 429 (Retry-After 1 s) ` +
    `and ${percent(fault503Rate)} answer 503`
  );
}

export function formatBanner(facts: BannerFacts): string {
  const sets = `${DEMO_SETS.join(', ')} (and unsets ${DEMO_DROPS.join(', ')})`;
  const ignored = facts.ignored.length === 0 ? '' : `; yours are not used: ${facts.ignored.join(', ')}`;
  const scopeArg = facts.scope === undefined ? '' : ` --scope ${facts.scope}`;
  return [
    '',
    `ntropy-bff demo: proxy ${facts.proxyUrl} -> simulated Ntropy ${facts.upstreamUrl}`,
    `  ${facts.batchCount} seeded batches over the 90 days up to now; ${facts.latencyMs} ms upstream latency`,
    `  ${describeFaults(facts.fault429Rate, facts.fault503Rate)}`,
    '',
    `Dev token (sub=demo-user${facts.scope === undefined ? '' : `, scope=${facts.scope}`}, valid ${facts.tokenTtlS / 60} minutes):`,
    `  ${facts.token}`,
    '',
    'Try:',
    `  curl -i -H "Authorization: Bearer ${facts.token}" "${facts.proxyUrl}/v3/batches?limit=5&status=completed"`,
    '',
    'Web page (another origin, listed in CORS_ORIGINS):',
    `  ${facts.pageUrl}`,
    `OpenAPI document: ${facts.proxyUrl}/openapi.json`,
    '',
    `Configuration: the proxy's variables are read as npm start reads them (environment over .env); the demo sets ${sets}${ignored}, adds the page's origins to CORS_ORIGINS, and listens on 127.0.0.1:8080 unless HOST/PORT say otherwise.`,
    `More tokens: JWT_SECRET=${facts.secret} npm run -s token -- --sub alice${scopeArg}`,
    'Faults: DEMO_FAULT_429_RATE=0.3 DEMO_FAULT_503_RATE=0.2 DEMO_LATENCY_MS=200 npm run demo',
    'Audit lines follow below. Ctrl-C stops.',
    '',
    '',
  ].join('\n');
}
