// The per-user limit (SPEC "Normalized errors", rate_limited): N requests per token subject per fixed 60 s window.
import type { NextFunction, Request, Response } from 'express';
import { rateLimit, type RateLimitInfo, type Store } from 'express-rate-limit';
import { Problem } from '../problem.js';
import { principalOf } from './authenticate.js';

const WINDOW_MS = 60_000;
const POLICY_NAME = 'user';

/**
 * The draft-8 `RateLimit` and `RateLimit-Policy` headers, written here rather than by express-rate-limit
 * (its `standardHeaders: 'draft-8'`), whose policy carries `pk=`, a hash of the key, i.e. of the user's
 * `sub`: no response header may carry anything derived from the user's identity.
 */
function setRateLimitHeaders(res: Response, info: RateLimitInfo): void {
  const resetS =
    info.resetTime === undefined ? WINDOW_MS / 1000 : (info.resetTime.getTime() - Date.now()) / 1000;
  res.setHeader('RateLimit', `"${POLICY_NAME}";r=${info.remaining};t=${Math.max(0, Math.ceil(resetS))}`);
  res.setHeader('RateLimit-Policy', `"${POLICY_NAME}";q=${info.limit};w=${WINDOW_MS / 1000}`);
}

function rateLimitOf(req: Request): RateLimitInfo | undefined {
  return (req as Request & { rateLimit?: RateLimitInfo }).rateLimit;
}

/** `store` defaults to express-rate-limit's in-memory store; with Redis, the shared one (SPEC "Replicas"). */
export function createUserRateLimit(limitPerMin: number, store?: Store) {
  // The stores keep one fixed window per key, started by its first hit, on the real clock
  // (hence Date.now, not an injected one).
  const limiter = rateLimit({
    windowMs: WINDOW_MS,
    limit: limitPerMin,
    standardHeaders: false,
    legacyHeaders: false,
    ...(store === undefined ? {} : { store }),
    keyGenerator: (_req, res) => principalOf(res).sub,
    handler: (req, _res, next) => {
      const resetAtMs = rateLimitOf(req)?.resetTime?.getTime();
      next(
        new Problem('rate_limited', `At most ${limitPerMin} requests per minute are allowed for each user`, {
          retryAfterS: resetAtMs === undefined ? WINDOW_MS / 1000 : (resetAtMs - Date.now()) / 1000,
        }),
      );
    },
  });
  return function userRateLimit(req: Request, res: Response, next: NextFunction): void {
    void limiter(req, res, (error?: unknown) => {
      // Both ways out: on to the route, or the handler's 429 on to the error handler.
      const info = rateLimitOf(req);
      if (info !== undefined) setRateLimitHeaders(res, info);
      next(error);
    });
  };
}
