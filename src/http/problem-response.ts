// Renders every failure as application/problem+json (SPEC "Normalized errors"), in Express and below it.
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { NextFunction, Request, Response } from 'express';
import { Problem } from '../problem.js';
import { auditFacts, requestIdOf } from './audit-log.js';
import type { Logger } from 'pino';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Anything thrown that is not a Problem is a bug: logged with its stack, answered without internals. */
export function toProblem(error: unknown): Problem {
  if (error instanceof Problem) return error;
  // Express's own body/URL errors carry a 4xx status: they are the client's, not ours.
  const status = (error as { status?: unknown } | undefined)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new Problem('bad_request', 'The request is malformed');
  }
  return new Problem('internal_error', 'An unexpected error occurred');
}

/** Writes a problem; `secret` is cut out of the body in case client input echoed it back. */
export function sendProblem(res: Response, problem: Problem, secret: string): void {
  const requestId = requestIdOf(res);
  const facts = auditFacts(res);
  facts.code = problem.code;
  if (problem.reason !== undefined) facts.reason = problem.reason;
  res.status(problem.status);
  res.setHeader('Content-Type', PROBLEM_CONTENT_TYPE);
  res.setHeader('Cache-Control', 'private, no-store');
  for (const [name, value] of Object.entries(problem.headers)) res.setHeader(name, value);
  if (problem.retryAfterS !== undefined) res.setHeader('Retry-After', String(problem.retryAfterS));
  // A Buffer, so Express adds no charset: the media type is exactly application/problem+json.
  res.send(Buffer.from(JSON.stringify(problem.toBody(requestId)).replaceAll(secret, '[redacted]')));
}

export function createErrorHandler(logger: Logger, secret: string) {
  return function handleError(error: unknown, _req: Request, res: Response, next: NextFunction): void {
    const problem = toProblem(error);
    if (problem.code === 'internal_error') {
      logger.error({ err: error, request_id: requestIdOf(res) }, 'unhandled error');
    }
    if (res.headersSent) return next(error);
    sendProblem(res, problem, secret);
  };
}

/**
 * SPEC "Anything else": what Node's HTTP parser rejects never reaches Express; answer it here with a
 * fresh request id and no audit line.
 */
export function handleClientError(error: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable || error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const problem =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? new Problem('headers_too_large', 'The request headers are too large')
      : new Problem('bad_request', 'The request could not be parsed');
  const requestId = randomUUID();
  const body = JSON.stringify(problem.toBody(requestId));
  socket.end(
    `HTTP/1.1 ${problem.status} ${problem.title}\r\n` +
      `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Request-ID: ${requestId}\r\n` +
      'Cache-Control: private, no-store\r\n' +
      'Connection: close\r\n\r\n' +
      body,
  );
}
