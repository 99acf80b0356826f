// createApp(deps): the middleware order of SPEC "Order of checks", the routes, 404/405, the one error handler.
import express, { type Request, type Response } from 'express';
import type { Store } from 'express-rate-limit';
import type { Logger } from 'pino';
import { createBatchesHandler } from './batches/batches-route.js';
import type { PageCache } from './batches/page-cache.js';
import type { Config } from './config.js';
import { AUDITED_PATH, createRequestLog } from './http/audit-log.js';
import { createAuthenticator } from './http/authenticate.js';
import { composeHandlers } from './http/compose-handlers.js';
import { createCors } from './http/cors.js';
import { refuseUnmetExpectation } from './http/expectation.js';
import { refuseUnplainTarget } from './http/request-target.js';
import { addRouteFallbacks, applyStrictSettings, refuseOtherMethods } from './http/route-fallbacks.js';
import { readSecurityHeaders } from './http/security-headers.js';
import type { VerifyToken } from './http/token-verifier.js';
import { createUserRateLimit } from './http/user-rate-limit.js';
import { atEveryLevel } from './logger.js';
import { METRICS_PATH, serveMetrics } from './metrics-app.js';
import type { Metrics } from './metrics.js';
import { createOpenApiRoute } from './openapi/openapi-route.js';
import { Problem } from './problem.js';

export interface AppDeps {
  config: Readonly<Config>;
  logger: Logger;
  /** Where audit lines go; by default the logger's own destination, at every LOG_LEVEL. */
  auditLogger?: Logger;
  verifyToken: VerifyToken;
  pageCache: PageCache;
  metrics: Metrics;
  /** The per-user limit's store; undefined = in this process (SPEC "Replicas and shared state"). */
  userLimitStore?: Store | undefined;
  /** False once shutdown has begun (SPEC "Shutdown"). */
  isReady: () => boolean;
  now?: () => number;
}

const ROUTES: Record<string, string> = {
  '/v3/batches': 'GET, HEAD',
  '/healthz': 'GET, HEAD',
  '/readyz': 'GET, HEAD',
  '/metrics': 'GET, HEAD',
  '/openapi.json': 'GET, HEAD',
};

export function createApp(deps: AppDeps): express.Express {
  const { config, metrics, isReady } = deps;
  const now = deps.now ?? Date.now;
  // SPEC variables, METRICS_PORT: when set, /metrics lives only there and this port answers it 404.
  const routes = Object.fromEntries(
    Object.entries(ROUTES).filter(([path]) => path !== METRICS_PATH || config.metricsPort === undefined),
  );
  const app = express();
  applyStrictSettings(app);
  // SPEC "Request IDs and audit log", client_ip: Express's reading of X-Forwarded-For under TRUST_PROXY.
  if (config.trustProxy !== undefined) app.set('trust proxy', config.trustProxy);

  const cors = createCors(config.corsOrigins);
  // SPEC "Order of checks", for /v3/batches: preflight, the target and Expect (both answered before routing
  // on every path), route (405), authentication and authorization, per-user limit, then the query, the
  // cache and the upstream inside the handler.
  const batches = composeHandlers([
    cors.withHeldHeaders,
    refuseUnplainTarget,
    refuseUnmetExpectation,
    refuseOtherMethods(AUDITED_PATH, ROUTES[AUDITED_PATH] ?? 'GET, HEAD'),
    createAuthenticator(deps.verifyToken, config.jwt.requiredScope),
    ...(config.userRateLimitPerMin === 0
      ? []
      : [createUserRateLimit(config.userRateLimitPerMin, deps.userLimitStore, now)]),
    createBatchesHandler({
      pageCache: deps.pageCache,
      requestDeadlineMs: config.requestDeadlineMs,
      metrics,
      now,
    }),
  ]);
  // The first layer: every request's id, headers and audit line, and /v3/batches answered right there.
  app.use(
    createRequestLog({
      auditLogger: deps.auditLogger ?? atEveryLevel(deps.logger),
      secret: config.ntropyApiKey,
      routes: Object.keys(routes),
      readsForwardedFor: config.trustProxy !== undefined,
      onClosed: (route, method, status, durationS) => metrics.recordRequest(route, method, status, durationS),
      isReady,
      now,
      fixedHeaders: readSecurityHeaders(),
      batches,
    }),
  );
  app.use(cors.forEveryPath);
  app.use(refuseUnplainTarget);
  app.use(refuseUnmetExpectation);

  app.get('/healthz', function healthz(_req: Request, res: Response) {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', function readyz(_req: Request, res: Response) {
    if (!isReady()) throw new Problem('shutting_down', 'The server is shutting down');
    res.json({ status: 'ready' });
  });
  if (routes[METRICS_PATH] !== undefined) app.get(METRICS_PATH, serveMetrics(metrics));
  app.get('/openapi.json', createOpenApiRoute(config.jwt.requiredScope));
  // /v3/batches never reaches the router: the first layer answers it, its 405 included.
  const routedPaths = Object.fromEntries(Object.entries(routes).filter(([path]) => path !== AUDITED_PATH));
  addRouteFallbacks(app, routedPaths, deps.logger, config.ntropyApiKey);
  return app;
}
