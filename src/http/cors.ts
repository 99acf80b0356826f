// CORS for the listed origins only (SPEC "CORS"); every other origin gets no CORS header at all.
import type { NextFunction, Request, Response } from 'express';
import cors from 'cors';

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
  return function corsForListedOrigins(req: Request, res: Response, next: NextFunction): void {
    const origin = req.headers.origin;
    // The cors package would still answer a preflight (without Allow-Origin) for an unlisted origin.
    if (origin === undefined || !allowed.has(origin)) return next();
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] === undefined) return next();
    applyCors(req, res, next);
  };
}
