// helmet's headers for a JSON API (SPEC "Security notes" in the README): nothing served may load anything or be framed.
import helmet from 'helmet';
import { recordFixedHeaders } from './answer-headers.js';

function createSecurityHeaders() {
  return helmet({
    // The headers that only matter to HTML documents are left out (each is a header on every answer).
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
    },
    crossOriginOpenerPolicy: false,
    originAgentCluster: false,
    xDnsPrefetchControl: false,
    xDownloadOptions: false,
    xPermittedCrossDomainPolicies: false,
    xXssProtection: false,
  });
}

/**
 * The same headers as a list (name, value, ...), read once from helmet itself: with these options every
 * header helmet sets is fixed, so nothing is left to decide per request, and the hot path writes them in its
 * one `writeHead` (BENCHMARKS.md) instead of through a middleware's eight `setHeader` calls.
 */
export function readSecurityHeaders(): string[] {
  return recordFixedHeaders(createSecurityHeaders(), { method: 'GET', headers: {} }, 'helmet');
}
