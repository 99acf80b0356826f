// SPEC "Normalized errors": an `Expect` other than `100-continue` gets 417 expectation_failed (RFC 9110 §10.1.1).
import type { NextFunction, Request, Response } from 'express';
import { Problem } from '../problem.js';

// Node's own reading of 100-continue (continueExpression in node:_http_server). Node hands a request with
// any other expectation to the server's 'checkExpectation' listener, which passes it to the app (server.ts).
const CONTINUE = /(?:^|\W)100-continue(?:$|\W)/i;

export function refuseUnmetExpectation(req: Request, _res: Response, next: NextFunction): void {
  const expectation = req.headers.expect;
  if (expectation !== undefined && !CONTINUE.test(expectation)) {
    throw new Problem('expectation_failed', 'The only expectation this server meets is 100-continue', {
      reason: 'unsupported_expectation',
    });
  }
  next();
}
