// The first layer: request ids, the headers every answer carries, the one audit line per /v3/batches request (SPEC "Request IDs and audit log"), and /v3/batches handed to its composed checks (app.ts builds them).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import type { ProblemCode } from '../problem.js';
import { addAnswerHeader, applyAnswerHeaders, holdAnswerHeaders, requestIdOf } from './answer-headers.js';
import { chooseRequestId } from './request-id.js';
import { readRequestTarget } from './request-target.js';

/** What the layers learn about a request, for its audit line. Known fields only, never headers. */
export interface AuditFacts {
  sub?: string;
  clientId?: string;
  azp?: string;
  query?: Readonly<Record<string, string | number | undefined>>;
  code?: ProblemCode;
  /** Why a request was refused or failed, as the server knows it (SPEC "Request IDs and audit log"). */
  reason?: string;
  cache?: 'HIT' | 'MISS' | 'STALE';
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

/** SPEC "CORS": a preflight is answered at once and is not audited. */
function isPreflight(req: IncomingMessage): boolean {
  return (
    req.method === 'OPTIONS' &&
    req.headers.origin !== undefined &&
    req.headers['access-control-request-method'] !== undefined
  );
}

const CLOSED_BY_SERVER = Symbol('ntropy-bff.closedByServer');

/** Names why the server itself closes a connection, for the audit line of a request cut short on it. */
export function markClosedByServer(socket: Socket, reason: string): void {
  (socket as Socket & { [CLOSED_BY_SERVER]?: string })[CLOSED_BY_SERVER] = reason;
}

/** A client that left before its answer was written is logged as 499 (nginx's convention), not as an error. */
export function isAnswerCutShort(res: ServerResponse): boolean {
  return !res.writableEnded && (res.destroyed || res.socket?.destroyed === true);
}

function answeredStatus(res: ServerResponse): number {
  return res.writableEnded ? res.statusCode : 499;
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
  clientIp: string | undefined,
  durationMs: number,
  secret: string,
) {
  const facts = auditFacts(res);
  const status = answeredStatus(res);
  const isCutShort = !res.writableEnded;
  const code = isCutShort ? 'client_closed_request' : status >= 400 ? facts.code : undefined;
  const closedBy = (req.socket as Socket & { [CLOSED_BY_SERVER]?: string })[CLOSED_BY_SERVER];
  const reason = isCutShort ? (closedBy ?? 'client_closed') : facts.reason;
  return {
    request_id: requestIdOf(res),
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
    client_ip: clientIp ?? null,
    ...(reason === undefined || status < 400 ? {} : { reason }),
    duration_ms: durationMs,
  };
}

export interface RequestLogOptions {
  /** Writes audit lines whatever LOG_LEVEL says (SPEC "Request IDs and audit log"). */
  auditLogger: Logger;
  /** The server key: never logged, even when a client sends it. */
  secret: string;
  /** The paths this app serves: a request's metrics label is its path when listed, else 'unmatched'. */
  routes: readonly string[];
  /** True with TRUST_PROXY: client_ip is Express's reading of X-Forwarded-For (`req.ip`), else the peer. */
  readsForwardedFor: boolean;
  /** Called once per response when it closes, for metrics. */
  onClosed: (route: string, method: string, status: number, durationS: number) => void;
  isReady: () => boolean;
  now: () => number;
  /** Headers every answer carries besides X-Request-ID and Cache-Control (the security headers), fixed at startup. */
  fixedHeaders?: readonly string[];
  /**
   * Answers `/v3/batches` (its checks composed in SPEC "Order of checks"), as part of this first layer:
   * the endpoint does not wait behind the router's other layers, and its headers stay held for its one writeHead.
   */
  batches?: RequestHandler;
}

/** Browsers and shared caches must not keep financial data; nor anything else we answer. */
const CACHE_CONTROL = ['Cache-Control', 'private, no-store'];

// Hand-written rather than pino-http: that binds two child loggers per request and was a fifth of
// the CPU of a cache hit (BENCHMARKS.md). Here one 'close' listener per request feeds both the
// audit line and the metrics.
export function createRequestLog(options: RequestLogOptions) {
  const { auditLogger, secret, onClosed, isReady, now, readsForwardedFor, batches } = options;
  const routes = new Set(options.routes);
  const fixedHeaders = CACHE_CONTROL.concat(options.fixedHeaders ?? []);
  // An app that does not serve /v3/batches (the metrics port) answers it 404 and audits nothing.
  const isAuditing = routes.has(AUDITED_PATH);
  return function requestLog(req: Request, res: Response, next: NextFunction): void {
    const receivedAtMs = now();
    (res.locals as { receivedAtMs?: number }).receivedAtMs = receivedAtMs;
    const clientId = req.headers['x-request-id'];
    // A client echoing the server key as its request id must not put the key into the logs.
    const requestId = chooseRequestId(
      typeof clientId === 'string' && clientId.includes(secret) ? undefined : clientId,
    );
    holdAnswerHeaders(res, requestId, fixedHeaders);
    if (!isReady()) addAnswerHeader(res, 'Connection', 'close');
    // The one parse of the target: it routes the request, labels its metrics and decides its audit line.
    const { path } = readRequestTarget(req);
    const route = path !== undefined && routes.has(path) ? path : 'unmatched';
    const isAuditLine = isAuditing && path === AUDITED_PATH && !isPreflight(req);
    // Read now: once the client has gone, its socket no longer knows the peer address.
    const clientIp = !isAuditLine ? undefined : readsForwardedFor ? req.ip : req.socket.remoteAddress;
    const startedAtMs = performance.now();
    // 'close' comes once per response: after it was written, or when the client went first (so `on`,
    // without the wrapper `once` adds).
    res.on('close', () => {
      const durationMs = performance.now() - startedAtMs;
      onClosed(route, req.method, answeredStatus(res), durationMs / 1000);
      if (!isAuditLine) return;
      const record = buildAuditRecord(req, res, clientIp, Math.round(durationMs * 1000) / 1000, secret);
      if (record.status >= 500) auditLogger.error(record, 'audit');
      else auditLogger.info(record, 'audit');
    });
    if (batches !== undefined && path === AUDITED_PATH) {
      batches(req, res, next);
      return;
    }
    applyAnswerHeaders(res);
    next();
  };
}
