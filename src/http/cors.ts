// CORS for the listed origins only (SPEC "CORS"); every other origin gets no CORS header at all.
import type { NextFunction, Request, Response } from 'express';
import cors from 'cors';
import { addAnswerHeaders, applyAnswerHeaders, recordFixedHeaders } from './answer-headers.js';

export function createCors(allowedOrigins: readonly string[]) {
  const allowed = new Set(allowedOrigins);
  const applyCors = cors({
    origin: (origin, callback) => callback(null, origin),
    methods: ['GET', 'HEAD'],
    allowedHeaders: ['Authorization', 'X-Request-ID'],
    exposedHeaders: [
      'X-Request-ID',
      'X-Upstream-Request-ID',
      'X-Cache',
      'Cache-Status',
      'Age',
      'Retry-After',
    ],
    maxAge: 600,
    optionsSuccessStatus: 204,
  });
  // An actual (not preflight) request's CORS headers depend on its origin alone: read once per listed
  // origin from the cors package itself, then added to the held headers of the page's one writeHead.
  const actualHeaders = new Map(
    allowedOrigins.map((origin) => [
      origin,
      recordFixedHeaders(applyCors, { method: 'GET', headers: { origin } }, 'cors'),
    ]),
  );

  /** The cors package would still answer a preflight (without Allow-Origin) for an unlisted origin. */
  function isListedCorsRequest(req: Request): boolean {
    const origin = req.headers.origin;
    if (origin === undefined || !allowed.has(origin)) return false;
    return req.method !== 'OPTIONS' || req.headers['access-control-request-method'] !== undefined;
  }

  return {
    /** For every path: sets the headers (and answers a preflight) through the cors package. */
    forEveryPath: (req: Request, res: Response, next: NextFunction): void => {
      if (!isListedCorsRequest(req)) return next();
      applyCors(req, res, next);
    },
    /** For an endpoint whose headers are held for one writeHead: a preflight is answered at once, as above. */
    withHeldHeaders: (req: Request, res: Response, next: NextFunction): void => {
      if (!isListedCorsRequest(req)) return next();
      const list = req.method === 'OPTIONS' ? undefined : actualHeaders.get(req.headers.origin ?? '');
      if (list === undefined) {
        applyAnswerHeaders(res);
        applyCors(req, res, next);
        return;
      }
      addAnswerHeaders(res, list);
      next();
    },
  };
}
