// createApp(deps): the middleware order of SPEC "Order of checks", the routes, 404/405, the one error handler.
import express, { type Request, type Response } from 'express';
import type { Store } from 'express-rate-limit';
import helmet from 'helmet';
import type { Logger } from 'pino';
import { createBatchesHandler } from './batches/batches-route.js';
import type { PageCache } from './batches/page-cache.js';
import type { Config } from './config.js';
import { createRequestLog } from './http/audit-log.js';
import { createAuthenticator } from './http/authenticate.js';
import { createCors } from './http/cors.js';
import { createErrorHandler, sendProblem } from './http/problem-response.js';
import { checkRequestTarget } from './http/request-target.js';
import type { VerifyToken } from './http/token-verifier.js';
import { createUserRateLimit } from './http/user-rate-limit.js';
import type { Metrics } from './metrics.js';
import { Problem } from './problem.js';

export interface AppDeps {
  config: Readonly<Config>;
  logger: Logger;
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
};

export function createApp(deps: AppDeps): express.Express {
  const { config, metrics, isReady } = deps;
  const now = deps.now ?? Date.now;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', false);
  // '/V3/Batches' and '/v3/batches/' are not the endpoint: one path, one audit rule.
  app.set('case sensitive routing', true);
  app.set('strict routing', true);

  app.use(
    createRequestLog({
      logger: deps.logger,
      secret: config.ntropyApiKey,
      onClosed: (route, method, status, durationS) => metrics.recordRequest(route, method, status, durationS),
      isReady,
      now,
    }),
  );
  app.use(
    helmet({
      // A JSON API: nothing it serves may load anything or be framed. The headers that only
      // matter to HTML documents are left out (each is a header on every answer).
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
    }),
  );
  app.use(createCors(config.corsOrigins));
  app.use(checkRequestTarget);

  app.get('/healthz', function healthz(_req: Request, res: Response) {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', function readyz(_req: Request, res: Response) {
    if (!isReady()) throw new Problem('shutting_down', 'The server is shutting down');
    res.json({ status: 'ready' });
  });
  app.get('/metrics', async function serveMetrics(_req: Request, res: Response) {
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });
  app.get(
    '/v3/batches',
    createAuthenticator(deps.verifyToken, config.jwt.requiredScope),
    ...(config.userRateLimitPerMin === 0
      ? []
      : [createUserRateLimit(config.userRateLimitPerMin, deps.userLimitStore)]),
    createBatchesHandler({
      pageCache: deps.pageCache,
      requestDeadlineMs: config.requestDeadlineMs,
      metrics,
      now,
    }),
  );
  for (const [path, allow] of Object.entries(ROUTES)) {
    app.all(path, function methodNotAllowed(req: Request) {
      throw new Problem('method_not_allowed', `${req.method} is not allowed on ${path}`, {
        headers: { Allow: allow },
      });
    });
  }
  app.use(function notFound(req: Request, res: Response) {
    sendProblem(res, new Problem('not_found', `No route for ${req.method} ${req.path}`), config.ntropyApiKey);
  });
  app.use(createErrorHandler(deps.logger, config.ntropyApiKey));
  return app;
}
