// Request ids and the one audit line per /v3/batches request (SPEC "Request IDs and audit log").
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import type { ProblemCode } from '../problem.js';
import { chooseRequestId } from './request-id.js';

/** What the layers learn about a request, for its audit line. Known fields only, never headers. */
export interface AuditFacts {
  sub?: string;
  clientId?: string;
  azp?: string;
  query?: Readonly<Record<string, string | number | undefined>>;
  code?: ProblemCode;
  cache?: 'HIT' | 'MISS';
  upstream?: {
    attempts: number;
    lastStatus: number | undefined;
    lastRequestId: string | undefined;
    waitedMs: number;
  };
}

export function auditFacts(res: Response | ServerResponse): AuditFacts {
  const locals = (res as Response).locals as { audit?: AuditFacts };
  return (locals.audit ??= {});
}

export const AUDITED_PATH = '/v3/batches';

/** SPEC: every /v3/batches request is audited, any method but CORS preflights. */
export function isAudited(req: IncomingMessage): boolean {
  const url = req.url ?? '';
  const path = url.startsWith('/') ? url.split('?', 1)[0] : safePathOf(url);
  if (path !== AUDITED_PATH) return false;
  const isPreflight =
    req.method === 'OPTIONS' &&
    req.headers.origin !== undefined &&
    req.headers['access-control-request-method'] !== undefined;
  return !isPreflight;
}

function safePathOf(url: string): string | undefined {
  try {
    return new URL(url).pathname;
  } catch {
    return undefined;
  }
}

/** A client that left before its answer was written is logged as 499 (nginx's convention). */
function answeredStatus(res: ServerResponse): { status: number; isClientGone: boolean } {
  return res.writableEnded
    ? { status: res.statusCode, isClientGone: false }
    : { status: 499, isClientGone: true };
}

/** Client input (a cursor, say) could carry the server key; it must not reach the log (SPEC "Normalized errors"). */
function scrubQuery(query: AuditFacts['query'], secret: string): AuditFacts['query'] | null {
  if (query === undefined) return null;
  const values = Object.values(query);
  if (!values.some((value) => typeof value === 'string' && value.includes(secret))) return query;
  return Object.fromEntries(
    Object.entries(query).map(([name, value]) => [
      name,
      typeof value === 'string' ? value.replaceAll(secret, '[redacted]') : value,
    ]),
  );
}

function buildAuditRecord(
  req: IncomingMessage,
  res: ServerResponse,
  durationMs: number,
  secret: string,
): Record<string, unknown> {
  const facts = auditFacts(res);
  const { status, isClientGone } = answeredStatus(res);
  const code = isClientGone ? 'client_closed_request' : status >= 400 ? facts.code : undefined;
  return {
    audit: true,
    sub: facts.sub ?? null,
    ...(facts.clientId === undefined ? {} : { client_id: facts.clientId }),
    ...(facts.azp === undefined ? {} : { azp: facts.azp }),
    method: req.method,
    path: AUDITED_PATH,
    query: scrubQuery(facts.query, secret),
    status,
    ...(code === undefined ? {} : { code }),
    cache: facts.cache ?? null,
    upstream_status: facts.upstream?.lastStatus ?? null,
    upstream_attempts: facts.upstream?.attempts ?? 0,
    upstream_request_id: facts.upstream?.lastRequestId ?? null,
    upstream_waited_ms: facts.upstream?.waitedMs ?? 0,
    duration_ms: durationMs,
  };
}

export function createAuditLog(logger: Logger, secret: string) {
  return pinoHttp<Request, Response>({
    logger,
    genReqId(req, res) {
      const clientId = req.headers['x-request-id'];
      // A client echoing the server key as its request id must not put the key into the logs.
      const id = chooseRequestId(
        typeof clientId === 'string' && clientId.includes(secret) ? undefined : clientId,
      );
      res.setHeader('X-Request-ID', id);
      return id;
    },
    autoLogging: { ignore: (req) => !isAudited(req) },
    quietReqLogger: true,
    // Every line logged for a request (the audit line included) carries its id under SPEC's name.
    customAttributeKeys: { reqId: 'request_id' },
    quietResLogger: true,
    // The record is built from known fields only; nothing of the raw request is bound to any line.
    wrapSerializers: false,
    serializers: { req: () => undefined, res: () => undefined },
    customLogLevel: (_req, res) => (answeredStatus(res).status >= 500 ? 'error' : 'info'),
    customSuccessObject: (req, res, value: { responseTime: number }) =>
      buildAuditRecord(req, res, value.responseTime, secret),
    customErrorObject: (req, res, _error, value: { responseTime: number }) =>
      buildAuditRecord(req, res, value.responseTime, secret),
    customSuccessMessage: () => 'audit',
    customErrorMessage: () => 'audit',
  });
}
