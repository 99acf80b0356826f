// The app of METRICS_PORT (SPEC variables): /metrics alone, with the same headers, request ids and problems as the main port.
import express, { type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { createRequestLog } from './http/audit-log.js';
import { refuseUnmetExpectation } from './http/expectation.js';
import { refuseUnplainTarget } from './http/request-target.js';
import { addRouteFallbacks, applyStrictSettings } from './http/route-fallbacks.js';
import { readSecurityHeaders } from './http/security-headers.js';
import type { Metrics } from './metrics.js';

export const METRICS_PATH = '/metrics';
const ROUTES = { [METRICS_PATH]: 'GET, HEAD' };

export function serveMetrics(metrics: Metrics) {
  return async function metricsText(_req: Request, res: Response): Promise<void> {
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  };
}

export interface MetricsAppDeps {
  metrics: Metrics;
  logger: Logger;
  secret: string;
  isReady: () => boolean;
  now: () => number;
}

export function createMetricsApp(deps: MetricsAppDeps): express.Express {
  const { metrics, logger, secret } = deps;
  const app = express();
  applyStrictSettings(app);
  app.use(
    createRequestLog({
      auditLogger: logger,
      secret,
      routes: Object.keys(ROUTES),
      readsForwardedFor: false,
      onClosed: (route, method, status, durationS) => metrics.recordRequest(route, method, status, durationS),
      isReady: deps.isReady,
      now: deps.now,
      fixedHeaders: readSecurityHeaders(),
    }),
  );
  app.use(refuseUnplainTarget);
  app.use(refuseUnmetExpectation);
  app.get(METRICS_PATH, serveMetrics(metrics));
  addRouteFallbacks(app, ROUTES, logger, secret);
  return app;
}
