// The per-user limit (SPEC "Normalized errors", rate_limited): N requests per token subject per fixed 60 s window.
import type { NextFunction, Request, Response } from 'express';
import { rateLimit, type RateLimitInfo, type Store } from 'express-rate-limit';
import { LRUCache } from 'lru-cache';
import { Problem } from '../problem.js';
import { addAnswerHeader } from './answer-headers.js';
import { principalOf } from './authenticate.js';

const WINDOW_MS = 60_000;
const POLICY_NAME = 'user';
/** Subjects whose window this process keeps; past it the least recently seen one starts afresh. */
const LOCAL_SUBJECTS_MAX = 100_000;

/**
 * The draft-8 `RateLimit` and `RateLimit-Policy` headers, written here rather than by express-rate-limit
 * (its `standardHeaders: 'draft-8'`), whose policy carries `pk=`, a hash of the key, i.e. of the user's
 * `sub`: no response header may carry anything derived from the user's identity. Then the 429 itself.
 */
function answer(
  res: Response,
  next: NextFunction,
  { limit, hits, resetAtMs, nowMs }: { limit: number; hits: number; resetAtMs: number; nowMs: number },
): void {
  const resetS = (resetAtMs - nowMs) / 1000;
  addAnswerHeader(
    res,
    'RateLimit',
    `"${POLICY_NAME}";r=${Math.max(limit - hits, 0)};t=${Math.max(0, Math.ceil(resetS))}`,
  );
  addAnswerHeader(res, 'RateLimit-Policy', `"${POLICY_NAME}";q=${limit};w=${WINDOW_MS / 1000}`);
  if (hits <= limit) return next();
  next(
    new Problem('rate_limited', `At most ${limit} requests per minute are allowed for each user`, {
      retryAfterS: resetS,
      reason: 'user_limit',
    }),
  );
}

/**
 * In this process: the fixed window of express-rate-limit's MemoryStore (one per subject, started by its
 * first hit), kept synchronously. Not express-rate-limit's middleware: per request it awaits five times and
 * defines a property on its info object, 8% of a cache hit's throughput (BENCHMARKS.md), and its store's API
 * is async though its work is not. lru-cache bounds the subjects kept and drops each with its window.
 */
function createLocalUserRateLimit(limitPerMin: number, now: () => number) {
  const windows = new LRUCache<string, { hits: number; resetAtMs: number }>({
    max: LOCAL_SUBJECTS_MAX,
    ttl: WINDOW_MS,
    // The windows' clock: lru-cache's own (performance.now) would end an entry on another time than its window.
    perf: { now },
  });
  return function userRateLimit(_req: Request, res: Response, next: NextFunction): void {
    const { sub } = principalOf(res);
    const nowMs = now();
    let window = windows.get(sub);
    if (window === undefined || window.resetAtMs <= nowMs) {
      window = { hits: 0, resetAtMs: nowMs + WINDOW_MS };
      windows.set(sub, window);
    }
    window.hits += 1;
    answer(res, next, { limit: limitPerMin, hits: window.hits, resetAtMs: window.resetAtMs, nowMs });
  };
}

function rateLimitOf(req: Request): RateLimitInfo | undefined {
  return (req as Request & { rateLimit?: RateLimitInfo }).rateLimit;
}

/** Across replicas (SPEC "Replicas and shared state"): express-rate-limit over the shared store, on the real clock. */
function createSharedUserRateLimit(limitPerMin: number, store: Store) {
  const limiter = rateLimit({
    windowMs: WINDOW_MS,
    limit: limitPerMin,
    standardHeaders: false,
    legacyHeaders: false,
    store,
    keyGenerator: (_req, res) => principalOf(res).sub,
    // Over the limit, too, on to `answer` below, which turns it into the 429.
    handler: (_req, _res, next) => next(),
  });
  return function userRateLimit(req: Request, res: Response, next: NextFunction): void {
    void limiter(req, res, (error?: unknown) => {
      const info = rateLimitOf(req);
      if (error !== undefined || info === undefined) return next(error);
      const nowMs = Date.now();
      const resetAtMs = info.resetTime?.getTime() ?? nowMs + WINDOW_MS;
      answer(res, next, { limit: info.limit, hits: info.used, resetAtMs, nowMs });
    });
  };
}

/** `store` undefined: this process's own windows on `now`; with Redis, the shared store (SPEC "Replicas"). */
export function createUserRateLimit(limitPerMin: number, store?: Store, now: () => number = Date.now) {
  return store === undefined
    ? createLocalUserRateLimit(limitPerMin, now)
    : createSharedUserRateLimit(limitPerMin, store);
}
