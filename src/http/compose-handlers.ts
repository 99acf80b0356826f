// Runs Express middleware in a fixed order as one handler: the checks of one endpoint without the router's per-layer work.
import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * `handlers` run one after another, each through `next()`, as in a route of their own; an error (thrown,
 * passed to `next`, or a rejected promise, as Express 5 reads it) goes to the caller's `next`, and so to
 * the app's error handler. Express's router would also match a path and a method per layer: the caller has
 * done both once already (BENCHMARKS.md: the router's walk was a seventh of a cache hit).
 */
export function composeHandlers(handlers: readonly RequestHandler[]): RequestHandler {
  return function composed(req: Request, res: Response, done: NextFunction): void {
    let index = 0;
    // As Express 5: a throw or rejection without a value is still an error, never a pass to the next layer.
    const fail = (error: unknown) => done(error ?? new Error('Rejected promise'));
    const next = (error?: unknown): void => {
      if (error) {
        done(error);
        return;
      }
      const handler = handlers[index++];
      if (handler === undefined) {
        done();
        return;
      }
      try {
        const result: unknown = handler(req, res, next);
        if (isThenable(result)) result.then(undefined, fail);
      } catch (thrown) {
        fail(thrown);
      }
    };
    next();
  };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}
