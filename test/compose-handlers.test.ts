import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { describe, expect, it } from 'vitest';
import { composeHandlers } from '../src/http/compose-handlers.js';

const req = {} as Request;
const res = {} as Response;

/** Runs the composed handlers and resolves with what reached the caller's `next`. */
function run(handlers: RequestHandler[]): Promise<{ calledWith: unknown[] }> {
  return new Promise((resolve) => {
    const done: NextFunction = (...args: unknown[]) => resolve({ calledWith: args });
    composeHandlers(handlers)(req, res, done);
  });
}

describe('composeHandlers — the checks of /v3/batches as one handler', () => {
  it("runs the handlers in their order, and calls the caller's next with nothing once all passed", async () => {
    const order: number[] = [];
    const step =
      (n: number): RequestHandler =>
      (_req, _res, next) => {
        order.push(n);
        next();
      };
    const { calledWith } = await run([step(1), step(2), step(3)]);
    expect(order).toEqual([1, 2, 3]);
    expect(calledWith).toEqual([]);
  });

  it('stops at the first error passed to next, and hands it on', async () => {
    const boom = new Error('boom');
    const later: number[] = [];
    const { calledWith } = await run([
      (_req, _res, next) => next(boom),
      () => {
        later.push(1);
      },
    ]);
    expect(calledWith).toEqual([boom]);
    expect(later).toEqual([]);
  });

  it('hands on what a handler throws or its promise rejects with', async () => {
    const thrown = new Error('thrown');
    const rejected = new Error('rejected');
    expect(
      (
        await run([
          () => {
            throw thrown;
          },
        ])
      ).calledWith,
    ).toEqual([thrown]);
    expect((await run([() => Promise.reject(rejected)])).calledWith).toEqual([rejected]);
  });

  it('treats a throw or rejection without a value as an error, as Express 5 does, not as a pass', async () => {
    for (const handler of [
      () => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error
        throw undefined;
      },
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      () => Promise.reject(undefined),
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      () => Promise.reject(null),
    ] as RequestHandler[]) {
      const { calledWith } = await run([handler]);
      expect(calledWith).toHaveLength(1);
      expect(calledWith[0]).toBeInstanceOf(Error);
    }
  });

  it('does not call next for a handler that answered and returned a promise that settled', async () => {
    let isDone = false;
    const answered: RequestHandler = () => Promise.resolve();
    composeHandlers([answered])(req, res, () => {
      isDone = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(isDone).toBe(false);
  });
});
