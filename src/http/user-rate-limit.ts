// The per-user limit (SPEC "Normalized errors", rate_limited): N requests per token subject per fixed 60 s window.
import type { Request } from 'express';
import { rateLimit } from 'express-rate-limit';
import { Problem } from '../problem.js';
import { principalOf } from './authenticate.js';

const WINDOW_MS = 60_000;

export function createUserRateLimit(limitPerMin: number) {
  // express-rate-limit's memory store keeps one fixed window per key, started by its first hit,
  // on the real clock (hence Date.now below, not an injected one).
  return rateLimit({
    windowMs: WINDOW_MS,
    limit: limitPerMin,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    identifier: 'user',
    keyGenerator: (_req, res) => principalOf(res).sub,
    handler: (req, _res, next) => {
      const resetAtMs = (
        req as Request & { rateLimit?: { resetTime?: Date } }
      ).rateLimit?.resetTime?.getTime();
      next(
        new Problem('rate_limited', `At most ${limitPerMin} requests per minute are allowed for each user`, {
          retryAfterS: resetAtMs === undefined ? WINDOW_MS / 1000 : (resetAtMs - Date.now()) / 1000,
        }),
      );
    },
  });
}
