// The end of every app's chain (SPEC "Anything else"): 405 with Allow on known paths, 404 elsewhere, the one error handler.
import type express from 'express';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { Problem } from '../problem.js';
import { createErrorHandler, sendProblem } from './problem-response.js';

/** `routes` maps each served path to its Allow value. */
export function addRouteFallbacks(
  app: express.Express,
  routes: Readonly<Record<string, string>>,
  logger: Logger,
  secret: string,
): void {
  for (const [path, allow] of Object.entries(routes)) app.all(path, refuseOtherMethods(path, allow));
  app.use(function notFound(req: Request, res: Response) {
    sendProblem(
      res,
      new Problem('not_found', `No route for ${req.method} ${req.path}`, { reason: 'no_route' }),
      secret,
    );
  });
  app.use(createErrorHandler(logger, secret));
}

/** 405 with Allow for a method not in `allow` ('GET, HEAD'), as the route of `path` would answer it. */
export function refuseOtherMethods(path: string, allow: string) {
  const methods = new Set(allow.split(', '));
  return function methodNotAllowed(req: Request, _res: Response, next: NextFunction): void {
    if (methods.has(req.method)) return next();
    throw new Problem('method_not_allowed', `${req.method} is not allowed on ${path}`, {
      headers: { Allow: allow },
      reason: 'unsupported_method',
    });
  };
}

/** Express settings both apps share: exact paths, no ETag, no query parsing, no X-Powered-By. */
export function applyStrictSettings(app: express.Express): void {
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', false);
  // '/V3/Batches' and '/v3/batches/' are not the endpoint: one path, one audit rule.
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
}
