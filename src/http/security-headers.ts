// helmet's headers for a JSON API (SPEC "Security notes" in the README): nothing served may load anything or be framed.
import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';

export function createSecurityHeaders() {
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
  const list: string[] = [];
  let isSync = false;
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      list.push(name, String(value));
    },
    removeHeader() {},
  };
  createSecurityHeaders()({} as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => {
    isSync = error === undefined;
  });
  if (!isSync) throw new Error('helmet did not set its headers synchronously and without error');
  return list;
}
