// helmet's headers for a JSON API (SPEC "Security notes" in the README): nothing served may load anything or be framed.
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
