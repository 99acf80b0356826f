// Renders every failure as application/problem+json (SPEC "Normalized errors"), in Express and below it.
import { randomUUID } from 'node:crypto';
import { validateHeaderValue, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { Problem } from '../problem.js';
import { applyAnswerHeaders, requestIdOf } from './answer-headers.js';
import { auditFacts, isAnswerCutShort, markClosedByServer } from './audit-log.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Anything thrown that is not a Problem is a bug: logged with its stack, answered without internals. */
export function toProblem(error: unknown): Problem {
  if (error instanceof Problem) return error;
  // Express's own body/URL errors carry a 4xx status: they are the client's, not ours.
  const status = (error as { status?: unknown } | undefined)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new Problem('bad_request', 'The request is malformed', { reason: 'malformed_request' });
  }
  return new Problem('internal_error', 'An unexpected error occurred', {
    reason: error instanceof Error ? error.name : typeof error,
  });
}

function isHeaderValue(value: string): boolean {
  try {
    validateHeaderValue('X-Upstream-Request-ID', value);
    return true;
  } catch {
    return false;
  }
}

/** Writes a problem; `secret` is cut out of the body in case client input echoed it back. */
export function sendProblem(res: Response, problem: Problem, secret: string): void {
  const requestId = requestIdOf(res);
  const facts = auditFacts(res);
  facts.code = problem.code;
  if (problem.reason !== undefined) facts.reason = problem.reason;
  applyAnswerHeaders(res);
  res.status(problem.status);
  res.setHeader('Content-Type', PROBLEM_CONTENT_TYPE);
  res.setHeader('Cache-Control', 'private, no-store');
  for (const [name, value] of Object.entries(problem.headers)) res.setHeader(name, value);
  if (problem.retryAfterS !== undefined) res.setHeader('Retry-After', String(problem.retryAfterS));
  // SPEC "Normalized errors": upstream-caused errors name Ntropy's id in a header too, as a page does.
  if (problem.upstreamRequestId !== undefined && isHeaderValue(problem.upstreamRequestId)) {
    res.setHeader('X-Upstream-Request-ID', problem.upstreamRequestId);
  }
  // A Buffer, so Express adds no charset: the media type is exactly application/problem+json.
  res.send(Buffer.from(JSON.stringify(problem.toBody(requestId)).replaceAll(secret, '[redacted]')));
}

export function createErrorHandler(logger: Logger, secret: string) {
  return function handleError(error: unknown, _req: Request, res: Response, _next: NextFunction): void {
    // SPEC "Request IDs and audit log": a client that left (or a connection the server closed) is an
    // ordinary 499 in its audit line, whatever its abandoned work threw: no error line, no stack.
    if (isAnswerCutShort(res)) return;
    const problem = toProblem(error);
    if (problem.code === 'internal_error') {
      logger.error({ err: error, request_id: requestIdOf(res) }, 'unhandled error');
    }
    if (res.headersSent) {
      // Half an answer cannot be turned into a problem: end the connection so the client sees it broke.
      if (!res.writableEnded) res.destroy();
      return;
    }
    sendProblem(res, problem, secret);
  };
}

function clientErrorProblem(code: string | undefined): Problem {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return new Problem('headers_too_large', 'The request headers are too large');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new Problem('request_timeout', 'The request did not arrive in time');
    default:
      return new Problem('bad_request', 'The request could not be parsed');
  }
}

/**
 * SPEC "Anything else": what Node's HTTP parser rejects, and a request not complete within
 * HTTP_HEADERS_TIMEOUT_MS, never reach Express; answer them here with a fresh request id and no audit line.
 */
export function handleClientError(error: Error & { code?: string }, socket: Socket): void {
  // Node's own test (socketOnError): a response still being written on this connection must not be
  // corrupted, so that connection is closed instead, and its request's audit line names why.
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  const problem = clientErrorProblem(error.code);
  if (!socket.writable || error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  if (inFlight !== null && inFlight !== undefined) {
    markClosedByServer(socket, problem.code);
    socket.destroy();
    return;
  }
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
